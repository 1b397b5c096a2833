export {
  type ConformanceFixture,
  type ConformanceWriteProbe,
  describeIdempotencyStoreConformance,
  type IdempotencyStoreConformanceOptions,
} from './conformance';
