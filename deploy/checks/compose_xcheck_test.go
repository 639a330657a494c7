package checks

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// TestComposeMatchesBinaries holds docker-compose.yml to the same checks as
// the Kubernetes manifests (TestKubernetesManifests shares acceptedEnv and
// the Dockerfile's ports): every service running our image runs a command
// that exists, sets only variables that command reads, and publishes the
// port its listen address names, which the Dockerfile exposes; the
// healthchecks ask for paths the binaries serve.
func TestComposeMatchesBinaries(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{repo("docker-compose.yml")}, cli.WithWorkingDirectory(root),
		cli.WithName("watchparty"), cli.WithEnv([]string{"WATCH_PARTY_AUTH_SECRET=a-secret-of-at-least-thirty-two-bytes-for-tests"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	dockerPorts := exposedPorts(t)
	apps := 0
	for name, s := range p.Services {
		if len(s.Command) == 0 || (s.Command[0] != "gateway" && s.Command[0] != "flusher") {
			continue
		}
		apps++
		ce := acceptedEnv(t, s.Command)
		for k := range s.Environment {
			switch {
			case ce.vars[k]:
			case flusherVars(t)[k] && s.Command[0] == "flusher":
				// Compose shares one environment between the flusher's
				// services; a variable another flusher command reads is
				// harmless here, but say so.
				t.Logf("%s: %s ignores %s (another flusher command reads it)", name, strings.Join(s.Command, " "), k)
			default:
				t.Errorf("%s: %s does not read %s", name, strings.Join(s.Command, " "), k)
			}
		}
		listenVar := map[string]string{"gateway": "GATEWAY_ADDR", "flusher run": "FLUSHER_METRICS_ADDR"}[strings.Join(s.Command, " ")]
		if listenVar == "" {
			continue
		}
		addr := s.Environment[listenVar]
		if addr == nil {
			t.Errorf("%s: %s not set", name, listenVar)
			continue
		}
		port, err := portOf(*addr)
		if err != nil {
			t.Errorf("%s: %s=%q: %v", name, listenVar, *addr, err)
			continue
		}
		if !dockerPorts[port] {
			t.Errorf("%s: listens on %d, which the Dockerfile does not EXPOSE", name, port)
		}
		published := false
		for _, pc := range s.Ports {
			if int32(pc.Target) == port {
				published = true
			}
		}
		if !published {
			t.Errorf("%s: listens on %d but publishes %+v", name, port, s.Ports)
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 0 {
			test := strings.Join(hc.Test, " ")
			if !strings.Contains(test, strconv.Itoa(int(port))) || !(strings.Contains(test, "/readyz") || strings.Contains(test, "/healthz")) {
				t.Errorf("%s: healthcheck %q does not ask /readyz or /healthz on port %d", name, test, port)
			}
		}
	}
	if apps < 3 {
		t.Errorf("found %d services running gateway or flusher, want the migration, gateways and the flusher", apps)
	}
}

// flusherVars are the variables any flusher command reads.
func flusherVars(t *testing.T) map[string]bool {
	t.Helper()
	all := map[string]bool{}
	for _, argv := range [][]string{{"flusher", "run"}, {"flusher", "migrate"}, {"flusher", "replay-dlq"}, {"flusher", "dlq", "list"}} {
		for k := range acceptedEnv(t, argv).vars {
			all[k] = true
		}
	}
	return all
}
