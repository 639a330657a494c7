package rdb

import (
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// replyError is a server reply as go-redis returns it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name                                            string
		err                                             error
		reply, noSuchKey, noStream, busyGroup, noScript bool
	}{
		{name: "nil", err: nil},
		{name: "no such key", err: replyError("ERR no such key"), reply: true, noSuchKey: true},
		{name: "no such key wrapped", err: fmt.Errorf("backlog: %w", replyError("ERR no such key")), reply: true, noSuchKey: true},
		{name: "group on a missing stream", err: replyError("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."),
			reply: true, noStream: true},
		{name: "busy group", err: replyError("BUSYGROUP Consumer Group name already exists"), reply: true, busyGroup: true},
		{name: "no script", err: replyError("NOSCRIPT No matching script. Please use EVAL."), reply: true, noScript: true},
		{name: "nil reply", err: redis.Nil, reply: true},
		{name: "transport", err: errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")},
		{name: "closed", err: redis.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{IsReply(tt.err), IsNoSuchKey(tt.err), IsNoStream(tt.err), IsBusyGroup(tt.err), IsNoScript(tt.err)}
			want := []bool{tt.reply, tt.noSuchKey, tt.noStream, tt.busyGroup, tt.noScript}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("IsReply, IsNoSuchKey, IsNoStream, IsBusyGroup, IsNoScript = %v, want %v", got, want)
			}
		})
	}
}
