package checks

import (
	"bytes"
	"encoding/json"

	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/watchparty/watchparty/internal/testenv"
)

// kinds are the Kubernetes objects the manifests may hold, each decoded
// strictly into its API type.
var kinds = map[string]func() any{
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// manifests is one kustomize build, decoded.
type manifests struct {
	objects    map[string]any // "Kind/name" -> typed object
	ruleGroups any            // spec.groups of the PrometheusRule
}

// build runs kustomize on dir (relative to the repository) and decodes
// every object strictly: an unknown or misspelt field fails.
func build(t *testing.T, dir string) manifests {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), repo(dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := manifests{objects: map[string]any{}}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		gvk := r.GetGvk()
		key := gvk.Kind + "/" + r.GetName()
		if gvk.Group == "monitoring.coreos.com" && gvk.Kind == "PrometheusRule" {
			var pr struct {
				Spec struct {
					Groups any `json:"groups"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(j, &pr); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out.ruleGroups = pr.Spec.Groups
			continue
		}
		apiVersion := gvk.Version
		if gvk.Group != "" {
			apiVersion = gvk.Group + "/" + gvk.Version
		}
		newObj, ok := kinds[apiVersion+"/"+gvk.Kind]
		if !ok {
			t.Errorf("%s: %s %s is not a kind this test validates", dir, apiVersion, gvk.Kind)
			continue
		}
		obj := newObj()
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Errorf("%s: %s does not decode strictly into %T: %v", dir, key, obj, err)
			continue
		}
		out.objects[key] = obj
	}
	return out
}

// commandEnv is what one command line of our image accepts.
type commandEnv struct {
	argv []string
	vars map[string]bool
}

var helpEnvVar = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)

// acceptedEnv runs argv with --help and returns the variables it names; it
// fails when the command or subcommand does not exist.
func acceptedEnv(t *testing.T, argv []string) commandEnv {
	t.Helper()
	if len(argv) == 0 || (argv[0] != "gateway" && argv[0] != "flusher") {
		t.Fatalf("command %q runs neither gateway nor flusher", argv)
	}
	c := exec.Command(testenv.Binary(t, argv[0]), append(append([]string{}, argv[1:]...), "--help")...)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if !strings.Contains(string(out), "Usage:\n  "+strings.Join(argv, " ")) {
		t.Fatalf("%s --help is not that command's help:\n%s", strings.Join(argv, " "), out)
	}
	ce := commandEnv{argv: argv, vars: map[string]bool{}}
	for _, m := range helpEnvVar.FindAllStringSubmatch(string(out), -1) {
		ce.vars[m[1]] = true
	}
	return ce
}

// podOf returns the pod template of a workload.
func podOf(obj any) (string, *corev1.PodTemplateSpec) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return "Deployment/" + o.Name, &o.Spec.Template
	case *appsv1.StatefulSet:
		return "StatefulSet/" + o.Name, &o.Spec.Template
	case *batchv1.Job:
		return "Job/" + o.Name, &o.Spec.Template
	}
	return "", nil
}

func portOf(addr string) (int32, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	return int32(n), err
}

// secretOnly are variables that must come from a Secret, never a literal or
// the ConfigMap.
var secretOnly = map[string]bool{"WATCH_PARTY_AUTH_SECRET": true, "DATABASE_URL": true}

// TestKubernetesManifests builds the base and the example overlay with
// kustomize, decodes every object strictly into the Kubernetes API types,
// and checks the workloads against the binaries: commands exist, every
// variable (set directly or through the ConfigMap) is one the command reads,
// secrets come from Secrets, ports match the listen addresses and the
// Dockerfile, probes use the paths the binaries serve (asked of a running
// gateway and flusher), shutdown fits the grace period, flushers have stable
// consumer names, and every pod runs locked down. The PrometheusRule must
// hold exactly deploy/prometheus/alerts.yml.
func TestKubernetesManifests(t *testing.T) {
	alerts := map[string]any{}
	b, err := os.ReadFile(repo("deploy/prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &alerts); err != nil {
		t.Fatal(err)
	}
	dockerPorts := exposedPorts(t)
	env := map[string]commandEnv{}
	accepted := func(argv []string) commandEnv {
		key := strings.Join(argv, " ")
		if _, ok := env[key]; !ok {
			env[key] = acceptedEnv(t, argv)
		}
		return env[key]
	}
	probePaths := map[string]bool{}

	for _, dir := range []string{"deploy/kubernetes/base", "deploy/kubernetes/overlays/example"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			m := build(t, dir)
			if !reflect.DeepEqual(m.ruleGroups, alerts["groups"]) {
				t.Errorf("the PrometheusRule's spec.groups differ from deploy/prometheus/alerts.yml")
			}
			cm, ok := m.objects["ConfigMap/watchparty-config"].(*corev1.ConfigMap)
			if !ok {
				t.Fatal("no ConfigMap watchparty-config")
			}
			for k := range cm.Data {
				if secretOnly[k] {
					t.Errorf("ConfigMap holds %s, which belongs in a Secret", k)
				}
			}
			cmUsed := map[string]bool{}
			var sawGateway, sawFlusher, sawMigrate bool
			for key, obj := range m.objects {
				name, pod := podOf(obj)
				if pod == nil {
					continue
				}
				ps := pod.Spec
				if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Errorf("%s: pod not runAsNonRoot", name)
				}
				for _, c := range ps.Containers {
					where := name + " container " + c.Name
					sc := c.SecurityContext
					if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
						t.Errorf("%s: root filesystem not read-only", where)
					}
					if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
						t.Errorf("%s: privilege escalation not disabled", where)
					}
					if sc == nil || sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
						t.Errorf("%s: capabilities not all dropped", where)
					}
					argv := append(append([]string{}, c.Command...), c.Args...)
					ce := accepted(argv)
					vars := map[string]string{}
					for _, e := range c.Env {
						if !ce.vars[e.Name] {
							t.Errorf("%s: %s does not read %s", where, strings.Join(argv, " "), e.Name)
						}
						if secretOnly[e.Name] && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
							t.Errorf("%s: %s must come from a Secret", where, e.Name)
						}
						vars[e.Name] = e.Value
					}
					for _, ef := range c.EnvFrom {
						if ef.ConfigMapRef == nil || ef.ConfigMapRef.Name != cm.Name {
							t.Errorf("%s: envFrom other than ConfigMap %s", where, cm.Name)
							continue
						}
						for k, v := range cm.Data {
							if ce.vars[k] {
								cmUsed[k] = true
							}
							if _, set := vars[k]; !set {
								vars[k] = v
							}
						}
					}
					ports := map[string]int32{}
					for _, p := range c.Ports {
						ports[p.Name] = p.ContainerPort
						if !dockerPorts[p.ContainerPort] {
							t.Errorf("%s: port %d is not EXPOSEd by the Dockerfile", where, p.ContainerPort)
						}
					}
					checkProbe := func(kind string, p *corev1.Probe, want string) {
						if p == nil || p.HTTPGet == nil {
							t.Errorf("%s: no HTTP %s probe", where, kind)
							return
						}
						if p.HTTPGet.Path != want {
							t.Errorf("%s: %s probe on %s, want %s", where, kind, p.HTTPGet.Path, want)
						}
						if _, ok := ports[p.HTTPGet.Port.StrVal]; !ok {
							t.Errorf("%s: %s probe port %q is not a named container port", where, kind, p.HTTPGet.Port.String())
						}
						probePaths[p.HTTPGet.Path] = true
					}
					shutdown := 5 * time.Second
					if v, ok := vars["WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS"]; ok {
						ms, err := strconv.Atoi(v)
						if err != nil {
							t.Fatalf("%s: WATCH_PARTY_SHUTDOWN_FLUSH_TIMEOUT_MS=%q", where, v)
						}
						shutdown = time.Duration(ms) * time.Millisecond
					}
					grace := 30 * time.Second
					if ps.TerminationGracePeriodSeconds != nil {
						grace = time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
					}
					listen := func(variable, portName string) {
						addr, ok := vars[variable]
						if !ok {
							t.Errorf("%s: %s is not set; the port would be the default, set it explicitly", where, variable)
							return
						}
						p, err := portOf(addr)
						if err != nil {
							t.Errorf("%s: %s=%q: %v", where, variable, addr, err)
							return
						}
						if ports[portName] != p {
							t.Errorf("%s: %s listens on %d, container port %q is %d", where, variable, p, portName, ports[portName])
						}
						if a := pod.Annotations["prometheus.io/port"]; a != strconv.Itoa(int(p)) {
							t.Errorf("%s: prometheus.io/port %q, the binary serves /metrics on %d", where, a, p)
						}
					}
					switch strings.Join(argv, " ") {
					case "gateway":
						sawGateway = true
						listen("GATEWAY_ADDR", "http")
						checkProbe("readiness", c.ReadinessProbe, "/readyz")
						checkProbe("liveness", c.LivenessProbe, "/healthz")
						var pause time.Duration
						if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
							t.Errorf("%s: no preStop pause before SIGTERM", where)
						} else {
							pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
							if rp := c.ReadinessProbe; rp != nil && pause < time.Duration(rp.PeriodSeconds*rp.FailureThreshold)*time.Second {
								t.Errorf("%s: preStop pause %v is shorter than readiness needs to turn false (%d × %ds)", where, pause, rp.FailureThreshold, rp.PeriodSeconds)
							}
						}
						if grace <= pause+shutdown {
							t.Errorf("%s: terminationGracePeriodSeconds %v not above preStop %v + shutdown timeout %v", where, grace, pause, shutdown)
						}
					case "flusher run":
						sawFlusher = true
						listen("FLUSHER_METRICS_ADDR", "metrics")
						checkProbe("readiness", c.ReadinessProbe, "/readyz")
						checkProbe("liveness", c.LivenessProbe, "/healthz")
						if grace <= shutdown {
							t.Errorf("%s: terminationGracePeriodSeconds %v not above the shutdown timeout %v", where, grace, shutdown)
						}
						stable := false
						for _, e := range c.Env {
							if e.Name == "WATCH_PARTY_CONSUMER_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
								e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
								stable = true
							}
						}
						if _, isSet := obj.(*appsv1.StatefulSet); !isSet || !stable {
							t.Errorf("%s: flushers need stable consumer names: a StatefulSet with WATCH_PARTY_CONSUMER_NAME from metadata.name", key)
						}
					case "flusher migrate":
						sawMigrate = true
					default:
						t.Errorf("%s: unexpected command %q", where, argv)
					}
				}
			}
			if !sawGateway || !sawFlusher || !sawMigrate {
				t.Errorf("want a gateway, a flusher and a migration; got gateway=%v flusher=%v migrate=%v", sawGateway, sawFlusher, sawMigrate)
			}
			for k := range cm.Data {
				if !cmUsed[k] {
					t.Errorf("ConfigMap key %s is read by no container that loads it", k)
				}
			}
			checkSelectors(t, m)
		})
	}

	// The probe paths are the ones the binaries really serve.
	s := startStack(t)
	for path := range probePaths {
		for _, addr := range []string{s.gateway, s.flusher} {
			res, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("GET %s%s on a healthy stack: %s", addr, path, res.Status)
			}
		}
	}
}

// checkSelectors checks that Services, PodDisruptionBudgets and the
// autoscaler point at workloads of the build, and that a workload the
// autoscaler scales sets no replicas of its own (every apply would reset the
// autoscaler's count to it).
func checkSelectors(t *testing.T, m manifests) {
	t.Helper()
	podLabels := map[string]map[string]string{}
	for _, obj := range m.objects {
		if name, pod := podOf(obj); pod != nil {
			podLabels[name] = pod.Labels
		}
	}
	matches := func(sel map[string]string) bool {
		for _, labels := range podLabels {
			ok := len(sel) > 0
			for k, v := range sel {
				if labels[k] != v {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for key, obj := range m.objects {
		switch o := obj.(type) {
		case *corev1.Service:
			if !matches(o.Spec.Selector) {
				t.Errorf("%s selects no pods", key)
			}
		case *policyv1.PodDisruptionBudget:
			if o.Spec.Selector == nil || !matches(o.Spec.Selector.MatchLabels) {
				t.Errorf("%s selects no pods", key)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := o.Spec.ScaleTargetRef
			target, ok := m.objects[ref.Kind+"/"+ref.Name]
			if !ok {
				t.Errorf("%s scales %s/%s, which is not in the build", key, ref.Kind, ref.Name)
			}
			var replicas *int32
			switch w := target.(type) {
			case *appsv1.Deployment:
				replicas = w.Spec.Replicas
			case *appsv1.StatefulSet:
				replicas = w.Spec.Replicas
			}
			if replicas != nil {
				t.Errorf("%s/%s sets replicas: %d while %s scales it; leave the count to the autoscaler", ref.Kind, ref.Name, *replicas, key)
			}
		}
	}
}

// exposedPorts are the ports the Dockerfile EXPOSEs.
func exposedPorts(t *testing.T) map[int32]bool {
	t.Helper()
	ports := map[int32]bool{}
	df, err := os.ReadFile(repo("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(df), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "EXPOSE" {
			for _, p := range f[1:] {
				n, _ := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				ports[int32(n)] = true
			}
		}
	}
	return ports
}
