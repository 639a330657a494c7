package deploy

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "../docker-compose.yml"

// specEnv is every configuration variable of SPEC §2: the only names the
// gateway and flusher services may set.
var specEnv = []string{
	"REDIS_URL",
	"REDIS_CLUSTER",
	"DATABASE_URL",
	"GATEWAY_ADDR",
	"FLUSHER_METRICS_ADDR",
	"WATCH_PARTY_FLUSH_INTERVAL_MINUTES",
	"WATCH_PARTY_FLUSH_INTERVAL",
	"WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS",
	"WATCH_PARTY_FLUSH_BATCH_SIZE",
	"WATCH_PARTY_MAX_DELIVERIES",
	"WATCH_PARTY_CLAIM_MIN_IDLE",
	"WATCH_PARTY_CONSUMER_NAME",
	"WATCH_PARTY_SCHEDULER_INTERVAL",
	"WATCH_PARTY_SCHEDULER_LEASE_TTL",
	"WATCH_PARTY_VIEWER_SAMPLE_INTERVAL",
	"WATCH_PARTY_AUTH_SECRET",
	"WATCH_PARTY_DEV_AUTH",
	"WATCH_PARTY_CHAT_RATE",
	"WATCH_PARTY_CHAT_BURST",
	"WATCH_PARTY_LIKE_RATE",
	"WATCH_PARTY_LIKE_BURST",
	"WATCH_PARTY_ALLOWED_ORIGINS",
	"WATCH_PARTY_MAX_BUFFERED_EVENTS",
	"LOG_FORMAT",
	"LOG_LEVEL",
}

// appCommands is the command each service of our image must run.
var appCommands = map[string][]string{
	"migrate":   {"flusher", "migrate"},
	"gateway-1": {"gateway"},
	"gateway-2": {"gateway"},
	"flusher":   {"flusher", "run"},
}

// testSecret is the only shell variable the tests set: compose has no
// default for it on purpose.
const testSecret = "a-secret-of-at-least-thirty-two-bytes-for-tests"

// loadCompose parses docker-compose.yml with the Compose Specification loader
// (interpolation with only WATCH_PARTY_AUTH_SECRET set in the shell, so every
// other ${VAR:-default} takes its default) and fails on anything the spec
// rejects.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadComposeEnv([]string{"WATCH_PARTY_AUTH_SECRET=" + testSecret})
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func loadComposeEnv(env []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(".."),
		cli.WithName("watchparty"),
		cli.WithEnv(env),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// TestComposeNeedsAuthSecret checks that the stack cannot start with a
// secret everyone knows: without WATCH_PARTY_AUTH_SECRET in the shell (or
// .env) compose refuses to load, naming the variable, and the gateways
// get exactly the secret given.
func TestComposeNeedsAuthSecret(t *testing.T) {
	_, err := loadComposeEnv(nil)
	if err == nil || !strings.Contains(err.Error(), "WATCH_PARTY_AUTH_SECRET") {
		t.Fatalf("load without WATCH_PARTY_AUTH_SECRET: %v; want an error naming the variable", err)
	}
	p := loadCompose(t)
	for _, name := range []string{"gateway-1", "gateway-2"} {
		if got := service(t, p, name).Environment["WATCH_PARTY_AUTH_SECRET"]; got == nil || *got != testSecret {
			t.Errorf("%s: WATCH_PARTY_AUTH_SECRET = %v, want the shell's value", name, got)
		}
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %q: %v", name, err)
	}
	return s
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	want := []string{"flusher", "gateway-1", "gateway-2", "migrate", "postgres", "redis"}
	got := p.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
}

func TestComposeAppServicesUseTheDockerfile(t *testing.T) {
	p := loadCompose(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for name := range appCommands {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: no build section; want the image of ./Dockerfile", name)
			continue
		}
		if filepath.Clean(s.Build.Context) != root {
			t.Errorf("%s: build context %q, want the repository root %q", name, s.Build.Context, root)
		}
		if df := s.Build.Dockerfile; df != "" && df != "Dockerfile" {
			t.Errorf("%s: dockerfile %q, want Dockerfile", name, df)
		}
		if s.Image != service(t, p, "gateway-1").Image {
			t.Errorf("%s: image %q differs from gateway-1's %q: one image serves every command", name, s.Image, service(t, p, "gateway-1").Image)
		}
	}
}

func TestComposeCommands(t *testing.T) {
	p := loadCompose(t)
	for name, want := range appCommands {
		s := service(t, p, name)
		if got := []string(s.Command); !slices.Equal(got, want) {
			t.Errorf("%s: command %q, want %q", name, got, want)
		}
		if len(s.Entrypoint) > 0 {
			t.Errorf("%s: entrypoint %q overrides the image's; the command names the binary", name, s.Entrypoint)
		}
	}
}

func TestComposeEnvironment(t *testing.T) {
	p := loadCompose(t)
	allowed := map[string]bool{}
	for _, name := range specEnv {
		allowed[name] = true
	}
	for name := range appCommands {
		for key, val := range service(t, p, name).Environment {
			if !allowed[key] {
				t.Errorf("%s: environment %s is not a SPEC §2 variable", name, key)
			}
			if val != nil && *val == "" {
				t.Errorf("%s: %s is set to the empty string; leave it unset (no value) to keep the binary's default", name, key)
			}
		}
	}

	wantSet := map[string]map[string]string{
		"migrate":   {"DATABASE_URL": ""},
		"gateway-1": {"REDIS_URL": "", "DATABASE_URL": "", "GATEWAY_ADDR": ":8080", "WATCH_PARTY_AUTH_SECRET": ""},
		"gateway-2": {"REDIS_URL": "", "DATABASE_URL": "", "GATEWAY_ADDR": ":8080", "WATCH_PARTY_AUTH_SECRET": ""},
		"flusher":   {"REDIS_URL": "", "DATABASE_URL": "", "FLUSHER_METRICS_ADDR": ":9090", "WATCH_PARTY_CONSUMER_NAME": "flusher-1"},
	}
	for name, vars := range wantSet {
		env := service(t, p, name).Environment
		for key, want := range vars {
			got := env[key]
			switch {
			case got == nil || *got == "":
				t.Errorf("%s: %s is not set", name, key)
			case want != "" && *got != want:
				t.Errorf("%s: %s = %q, want %q", name, key, *got, want)
			}
		}
	}
}

// TestComposeURLs checks that the URLs point at the compose services, with the
// password the postgres service is given.
func TestComposeURLs(t *testing.T) {
	p := loadCompose(t)
	pgPassword := service(t, p, "postgres").Environment["POSTGRES_PASSWORD"]
	for name := range appCommands {
		env := service(t, p, name).Environment
		if v := env["REDIS_URL"]; v != nil {
			u, err := url.Parse(*v)
			if err != nil || u.Scheme != "redis" || u.Host != "redis:6379" {
				t.Errorf("%s: REDIS_URL %q, want redis://redis:6379/...", name, *v)
			}
		}
		if v := env["DATABASE_URL"]; v != nil {
			u, err := url.Parse(*v)
			if err != nil || u.Host != "postgres:5432" || u.Path != "/watchparty" {
				t.Errorf("%s: DATABASE_URL %q, want postgres://...@postgres:5432/watchparty", name, *v)
				continue
			}
			pw, _ := u.User.Password()
			if pgPassword != nil && pw != *pgPassword {
				t.Errorf("%s: DATABASE_URL password %q differs from the postgres service's POSTGRES_PASSWORD %q", name, pw, *pgPassword)
			}
		}
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t)
	want := map[string]types.ServicePortConfig{
		"gateway-1": {Target: 8080, Published: "8081"},
		"gateway-2": {Target: 8080, Published: "8082"},
		"flusher":   {Target: 9090, Published: "9090"},
	}
	for name, w := range want {
		ports := service(t, p, name).Ports
		if len(ports) != 1 || ports[0].Target != w.Target || ports[0].Published != w.Published {
			t.Errorf("%s: ports %+v, want %s:%d", name, ports, w.Published, w.Target)
		}
	}
	for _, name := range []string{"migrate", "redis", "postgres"} {
		if ports := service(t, p, name).Ports; len(ports) > 0 {
			t.Errorf("%s: publishes %+v; only the gateways and the flusher are reached from outside", name, ports)
		}
	}
}

func TestComposeRedisDurability(t *testing.T) {
	p := loadCompose(t)
	redis := service(t, p, "redis")
	cmd := " " + strings.Join(redis.Command, " ") + " "
	for _, want := range []string{" --appendonly yes ", " --appendfsync everysec ", " --maxmemory-policy noeviction "} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q", redis.Command, strings.TrimSpace(want))
		}
	}
	if !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis image %q, want redis:7", redis.Image)
	}
	if !hasVolumeAt(redis, "/data") {
		t.Errorf("redis: no named volume at /data")
	}
}

func TestComposeStartupOrder(t *testing.T) {
	p := loadCompose(t)
	type dep struct{ service, on, condition string }
	for _, d := range []dep{
		{"migrate", "postgres", types.ServiceConditionHealthy},
		{"gateway-1", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"gateway-1", "redis", types.ServiceConditionHealthy},
		{"gateway-2", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"gateway-2", "redis", types.ServiceConditionHealthy},
		{"flusher", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"flusher", "redis", types.ServiceConditionHealthy},
	} {
		got, ok := service(t, p, d.service).DependsOn[d.on]
		if !ok || got.Condition != d.condition {
			t.Errorf("%s depends_on %s: %+v (present %v), want condition %s", d.service, d.on, got, ok, d.condition)
		}
	}
	if r := service(t, p, "migrate").Restart; r != types.RestartPolicyNo {
		t.Errorf("migrate restart %q, want %q: it runs once", r, types.RestartPolicyNo)
	}
	for _, name := range []string{"redis", "postgres"} {
		hc := service(t, p, name).HealthCheck
		if hc == nil || len(hc.Test) == 0 || hc.Disable {
			t.Errorf("%s: no healthcheck, but services wait for service_healthy", name)
		}
	}
	if hc := service(t, p, "postgres").HealthCheck; hc != nil && !slices.Contains(hc.Test, "pg_isready") {
		t.Errorf("postgres healthcheck %q, want pg_isready", hc.Test)
	}
	if !hasVolumeAt(service(t, p, "postgres"), "/var/lib/postgresql/data") {
		t.Errorf("postgres: no named volume at /var/lib/postgresql/data")
	}
}

func hasVolumeAt(s types.ServiceConfig, target string) bool {
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == target && v.Source != ""
	})
}
