package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// listenDebug opens the listener for Go's profiles, or returns nil when
// cfg.DebugAddr is empty.
func (g *Gateway) listenDebug() (net.Listener, error) {
	if g.cfg.DebugAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", g.cfg.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on GATEWAY_DEBUG_ADDR %q: %w", g.cfg.DebugAddr, err)
	}
	return ln, nil
}

// serveDebug serves Go's profiles (/debug/pprof/) on ln, a listener of its
// own so that they are never exposed with the public API, until ctx ends.
func (g *Gateway) serveDebug(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	g.log.Info("debug listener (pprof) on", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return fmt.Errorf("debug server: %w", err)
	}
	return nil
}
