package stream_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/watchparty/watchparty/internal/stream"
	"github.com/watchparty/watchparty/internal/testenv"
)

// BenchmarkAppend appends chats from 64 goroutines over 16 parties through
// one Appender on the shared Redis: the gateway's hot path without the
// WebSocket. Run with -benchmem: allocs/op is per event.
func BenchmarkAppend(b *testing.B) {
	a := stream.NewAppender(testenv.SharedRedisClient(b), stream.AppenderConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	parties := make([]uuid.UUID, 16)
	for i := range parties {
		parties[i] = uuid.New()
	}
	const workers = 64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < b.N; i += workers {
				e := chat(parties[i%len(parties)], "u"+strconv.Itoa(w), strconv.Itoa(i))
				if _, err := a.Append(context.Background(), e, true); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
