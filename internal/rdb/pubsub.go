package rdb

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscription is one pub/sub connection to sharded channels (SSUBSCRIBE).
// go-redis reconnects and resubscribes it by itself after a network error,
// and each (re)subscription is confirmed by a message of kind
// "ssubscribe". Receive is called from one goroutine at a time.
type Subscription struct{ ps *redis.PubSub }

// PubSubMessage is what Receive got: Kind "message" (Payload published on
// Channel), "ssubscribe" or "sunsubscribe" (a change of Channel's
// subscription), or "" (anything else, a pong).
type PubSubMessage struct {
	Kind    string
	Channel string
	Payload string
}

// Subscribe opens a pub/sub connection subscribed to channels (none: it
// connects on its first subscription). On Redis Cluster a connection
// serves the slot of its first channel only.
func (s *Streams) Subscribe(ctx context.Context, channels ...string) *Subscription {
	return &Subscription{ps: s.c.SSubscribe(ctx, channels...)}
}

// ReloadSlots refreshes a Redis Cluster client's slot map (a failover or
// resharding may have moved a channel's slot); it does nothing otherwise.
func (s *Streams) ReloadSlots(ctx context.Context) {
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		cc.ReloadState(ctx)
	}
}

// Subscribe adds channel to the connection.
func (s *Subscription) Subscribe(ctx context.Context, channel string) error {
	return s.ps.SSubscribe(ctx, channel)
}

// Unsubscribe removes channel from the connection.
func (s *Subscription) Unsubscribe(ctx context.Context, channel string) error {
	return s.ps.SUnsubscribe(ctx, channel)
}

// Ping checks the connection; the pong comes through Receive.
func (s *Subscription) Ping(ctx context.Context) error { return s.ps.Ping(ctx) }

// Close closes the connection; a Receive then fails with an error
// IsClosed recognises.
func (s *Subscription) Close() error { return s.ps.Close() }

// Receive waits at most timeout for the next message. A timeout is an
// error with a Timeout() bool method returning true.
func (s *Subscription) Receive(ctx context.Context, timeout time.Duration) (PubSubMessage, error) {
	msg, err := s.ps.ReceiveTimeout(ctx, timeout)
	switch m := msg.(type) {
	case *redis.Subscription:
		return PubSubMessage{Kind: m.Kind, Channel: m.Channel}, err
	case *redis.Message:
		return PubSubMessage{Kind: "message", Channel: m.Channel, Payload: m.Payload}, err
	}
	return PubSubMessage{}, err
}

// IsClosed reports whether err says the client or connection was closed.
func IsClosed(err error) bool { return errors.Is(err, redis.ErrClosed) }
