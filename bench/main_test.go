package bench

import (
	"flag"
	"testing"
	"time"

	"github.com/watchparty/watchparty/internal/testenv"
)

// Sizes of the benchmarks; the defaults keep `make bench` within a few
// minutes on a 2-core machine.
var (
	flushParties  = flag.Int("flush.parties", 10, "BenchmarkFlushThroughput: parties")
	flushPerParty = flag.Int("flush.per-party", 50_000, "BenchmarkFlushThroughput: events per party")
	ingestClients = flag.Int("ingest.clients", 1000, "BenchmarkIngest: WebSocket clients, one party each")
	ingestWindow  = flag.Int("ingest.window", 8, "BenchmarkIngest: un-acked chats each client keeps in flight")
	ingestFor     = flag.Duration("ingest.duration", 10*time.Second, "BenchmarkIngest: measured duration (the paced phase takes half)")
	ingestPaced   = flag.Float64("ingest.paced-rate", 5000, "BenchmarkIngest: chats per second of all clients in the paced phase")
	baselineFor   = flag.Duration("baseline.duration", 3*time.Second, "BenchmarkIngest: duration of each Redis baseline")

	capacityEvents = flag.Int("capacity.events", 200_000, "BenchmarkCapacity: chats appended to measure Redis memory")
)

func TestMain(m *testing.M) { testenv.Main(m) }
