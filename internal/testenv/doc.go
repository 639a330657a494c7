// Package testenv gives integration tests real, throwaway Redis and
// PostgreSQL servers, and fresh migrated databases cloned from a template.
//
// Per-test servers come from StartRedis and StartPostgres and die with the
// test. Servers shared by a whole test binary come from SharedRedisURL,
// SharedPostgresURL and NewDatabase; they need the package's TestMain to be
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// so that they are stopped when the binary finishes. TEST_REDIS_URL and
// TEST_DATABASE_URL point the shared helpers at existing servers instead.
package testenv
