package checks

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/watchparty/watchparty/internal/config"
	"github.com/watchparty/watchparty/internal/envflag"
)

// closedOnPurpose are the listen addresses no NetworkPolicy may open, and
// why. A listener that is neither allowed by a policy nor named here fails
// TestNetworkPolicies.
var closedOnPurpose = map[string]string{
	"GATEWAY_DEBUG_ADDR": "Go's profiles are for an operator, who reaches them with kubectl port-forward " +
		"(which NetworkPolicy does not filter); no other pod and no viewer may",
}

// dnsPort is where the pods resolve the names in REDIS_URL and DATABASE_URL.
const dnsPort = 53

// settingsOf returns the declared settings of each command, by its name as
// invoked ("gateway", "flusher run"), as internal/config declares them.
func settingsOf() map[string][]envflag.Row {
	out := map[string][]envflag.Row{}
	for _, c := range config.Commands() {
		for _, s := range c.Settings {
			out[c.Name] = append(out[c.Name], s.Row())
		}
	}
	return out
}

// containerEnv is what the container's variables are set to: its literal env
// values over the ConfigMap it loads. A variable from a Secret or the
// downward API is in secret, its value unknown.
func containerEnv(c corev1.Container, cm *corev1.ConfigMap) (vars map[string]string, secret map[string]bool) {
	vars, secret = map[string]string{}, map[string]bool{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && cm != nil && ef.ConfigMapRef.Name == cm.Name {
			for k, v := range cm.Data {
				vars[k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			delete(vars, e.Name)
			secret[e.Name] = true
			continue
		}
		vars[e.Name] = e.Value
	}
	return vars, secret
}

// setting returns the value a command sees for one of its settings: the
// container's, else the default. known is false when it comes from a Secret.
func setting(r envflag.Row, vars map[string]string, secret map[string]bool) (v string, known bool) {
	if secret[r.Env] {
		return "", false
	}
	if v, ok := vars[r.Env]; ok {
		return v, true
	}
	return r.Default, true
}

// urlPorts are the TCP ports a Redis or PostgreSQL URL connects to: the URL's
// (or defPort), the addr parameters of a Sentinel URL, or each host:port of a
// comma-separated list of Redis Cluster seeds.
func urlPorts(u string, defPort int32) ([]int32, error) {
	var hostports []string
	if !strings.Contains(u, "://") {
		hostports = strings.Split(u, ",")
	} else {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		hostports = append([]string{pu.Host}, pu.Query()["addr"]...)
	}
	var ports []int32
	for _, hp := range hostports {
		hp = strings.TrimSpace(hp)
		if hp = hp[strings.LastIndex(hp, "@")+1:]; hp == "" {
			continue
		}
		if _, p, err := net.SplitHostPort(hp); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("%q: port %q", u, p)
			}
			ports = append(ports, int32(n))
		} else {
			ports = append(ports, defPort)
		}
	}
	return ports, nil
}

// defaultPort is the port of a URL setting's default (6379 for REDIS_URL,
// 5432 for DATABASE_URL).
func defaultPort(r envflag.Row) int32 {
	u, err := url.Parse(r.Default)
	if err != nil || u.Port() == "" {
		return 0
	}
	n, _ := strconv.Atoi(u.Port())
	return int32(n)
}

// selects reports whether sel selects a pod with these labels.
func selects(sel *metav1.LabelSelector, podLabels map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels)), nil
}

// affects reports the directions a policy isolates (its policyTypes, or as
// the API defaults them when empty).
func affects(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress),
		slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

// protoPort is one port of one protocol, as "TCP/8080".
type protoPort string

func pp(proto corev1.Protocol, port int32) protoPort {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return protoPort(fmt.Sprintf("%s/%d", proto, port))
}

// policyPorts resolves the ports of one rule; a named port is looked up in
// named (the selected pod's own container ports for ingress). It reports a
// rule that allows every port.
func policyPorts(where string, ports []networkingv1.NetworkPolicyPort, named map[string]int32) ([]protoPort, []string) {
	var out []protoPort
	var problems []string
	if len(ports) == 0 {
		return nil, []string{where + ": a rule without ports allows every port"}
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		switch {
		case p.Port == nil:
			problems = append(problems, where+": a port entry without a port allows every port")
		case p.Port.Type == intstr.String:
			n, ok := named[p.Port.StrVal]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: port %q is not a named port of the pod", where, p.Port.StrVal))
				continue
			}
			out = append(out, pp(proto, n))
		case p.EndPort != nil:
			for n := p.Port.IntVal; n <= *p.EndPort; n++ {
				out = append(out, pp(proto, n))
			}
		default:
			out = append(out, pp(proto, p.Port.IntVal))
		}
	}
	return out, problems
}

// openToAnyone reports whether a rule's peers admit anyone: no peers at
// all, or an ipBlock of every address.
func openToAnyone(peers []networkingv1.NetworkPolicyPeer) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil && (p.IPBlock.CIDR == "0.0.0.0/0" || p.IPBlock.CIDR == "::/0") {
			return true
		}
	}
	return false
}

// fromNamespaces reports whether a peer list admits pods of another
// namespace chosen by a namespaceSelector (Prometheus's, for /metrics).
func fromNamespaces(peers []networkingv1.NetworkPolicyPeer) bool {
	for _, p := range peers {
		if p.NamespaceSelector != nil && (len(p.NamespaceSelector.MatchLabels) > 0 || len(p.NamespaceSelector.MatchExpressions) > 0) {
			return true
		}
	}
	return false
}

// checkNetworkPolicies checks the NetworkPolicies of one build against what
// the binaries do, and returns what is wrong:
//
//   - every workload pod is isolated for ingress and egress;
//   - each address a command listens on (its settings ending in _ADDR, as
//     internal/config declares them, with the value the pod gives them) is
//     allowed by an ingress rule, or is in closedOnPurpose and allowed by
//     none; no rule opens a port nothing listens on, or every port;
//   - only ports a load-balanced Service targets are open to anyone; the
//     port Prometheus scrapes (prometheus.io/port) is reachable from the
//     namespaces a namespaceSelector names;
//   - egress is exactly DNS plus the ports of REDIS_URL and DATABASE_URL for
//     the commands that read them (a URL held in a Secret counts with its
//     default's port), each rule limited to named destinations.
func checkNetworkPolicies(m manifests) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	settings := settingsOf()
	cm, _ := m.objects["ConfigMap/watchparty-config"].(*corev1.ConfigMap)

	var policies []*networkingv1.NetworkPolicy
	var services []*corev1.Service
	for _, obj := range m.objects {
		switch o := obj.(type) {
		case *networkingv1.NetworkPolicy:
			policies = append(policies, o)
		case *corev1.Service:
			services = append(services, o)
		}
	}
	sort.Slice(policies, func(i, j int) bool { return policies[i].Name < policies[j].Name })
	if len(policies) == 0 {
		return []string{"no NetworkPolicy in the build"}
	}

	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		name, pod := podOf(m.objects[key])
		if pod == nil {
			continue
		}
		podLabels := pod.Labels
		var ingressPolicies, egressPolicies []*networkingv1.NetworkPolicy
		for _, np := range policies {
			ok, err := selects(&np.Spec.PodSelector, podLabels)
			if err != nil {
				bad("NetworkPolicy/%s: podSelector: %v", np.Name, err)
				continue
			}
			if !ok {
				continue
			}
			in, out := affects(np)
			if in {
				ingressPolicies = append(ingressPolicies, np)
			}
			if out {
				egressPolicies = append(egressPolicies, np)
			}
		}
		if len(ingressPolicies) == 0 {
			bad("%s: no NetworkPolicy isolates it for ingress: every port is open", name)
		}
		if len(egressPolicies) == 0 {
			bad("%s: no NetworkPolicy isolates it for egress: it may connect anywhere", name)
		}

		for _, c := range pod.Spec.Containers {
			where := name + " container " + c.Name
			command := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
			rows, ok := settings[command]
			if !ok {
				bad("%s: %q is no command internal/config declares", where, command)
				continue
			}
			vars, secret := containerEnv(c, cm)
			named := map[string]int32{}
			for _, p := range c.Ports {
				if p.Name != "" {
					named[p.Name] = p.ContainerPort
				}
			}

			// What the policies let in, and from whom.
			type admission struct {
				policy          string
				anyone, fromNSs bool
			}
			allowed := map[protoPort][]admission{}
			for _, np := range ingressPolicies {
				for i, r := range np.Spec.Ingress {
					ports, ps := policyPorts(fmt.Sprintf("NetworkPolicy/%s ingress[%d]", np.Name, i), r.Ports, named)
					problems = append(problems, ps...)
					for _, p := range ports {
						allowed[p] = append(allowed[p], admission{np.Name, openToAnyone(r.From), fromNamespaces(r.From)})
					}
				}
			}
			// Ports a load-balanced (not headless) Service sends traffic to.
			public := map[protoPort]bool{}
			for _, s := range services {
				if s.Spec.ClusterIP == corev1.ClusterIPNone {
					continue
				}
				if ok, _ := selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, podLabels); !ok {
					continue
				}
				for _, sp := range s.Spec.Ports {
					n := sp.TargetPort.IntVal
					if sp.TargetPort.Type == intstr.String {
						n = named[sp.TargetPort.StrVal]
					}
					public[pp(sp.Protocol, n)] = true
				}
			}

			listened := map[protoPort]string{}
			for _, r := range rows {
				if !strings.HasSuffix(r.Env, "_ADDR") {
					continue
				}
				addr, known := setting(r, vars, secret)
				if !known {
					bad("%s: %s comes from a Secret; the port it listens on cannot be checked", where, r.Env)
					continue
				}
				if addr == "" {
					continue // off
				}
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					bad("%s: %s=%q: %v", where, r.Env, addr, err)
					continue
				}
				if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
					continue // not reachable from the network at all
				}
				port, err := portOf(addr)
				if err != nil {
					bad("%s: %s=%q: %v", where, r.Env, addr, err)
					continue
				}
				p := pp(corev1.ProtocolTCP, port)
				listened[p] = r.Env
				adm, open := allowed[p]
				reason, closed := closedOnPurpose[r.Env]
				switch {
				case open && closed:
					bad("%s: %s (port %d) must stay closed (%s), but NetworkPolicy/%s allows it", where, r.Env, port, reason, adm[0].policy)
				case !open && !closed:
					bad("%s: listens on port %d (%s) and no NetworkPolicy allows it: allow it, or list it in closedOnPurpose with the reason", where, port, r.Env)
				}
				if a := pod.Annotations["prometheus.io/port"]; a == strconv.Itoa(int(port)) && open {
					scrapable := false
					for _, ad := range adm {
						scrapable = scrapable || ad.anyone || ad.fromNSs
					}
					if !scrapable {
						bad("%s: Prometheus scrapes port %d (%s), but no rule admits it from the monitoring namespace", where, port, r.Env)
					}
				}
			}
			for p, adm := range allowed {
				if _, ok := listened[p]; !ok {
					bad("%s: NetworkPolicy/%s allows %s, where the command listens on nothing", where, adm[0].policy, p)
				}
				for _, ad := range adm {
					if ad.anyone && !public[p] {
						bad("%s: NetworkPolicy/%s opens %s to anyone, but no load-balanced Service serves it: name who may connect", where, ad.policy, p)
					}
				}
			}

			// What the command connects to.
			need := map[protoPort]string{}
			for _, r := range rows {
				if r.Env != "REDIS_URL" && r.Env != "DATABASE_URL" {
					continue
				}
				v, known := setting(r, vars, secret)
				if !known {
					v = r.Default
				}
				ports, err := urlPorts(v, defaultPort(r))
				if err != nil {
					bad("%s: %s: %v", where, r.Env, err)
					continue
				}
				for _, p := range ports {
					need[pp(corev1.ProtocolTCP, p)] = r.Env
				}
			}
			if len(need) > 0 {
				need[pp(corev1.ProtocolUDP, dnsPort)] = "DNS"
				need[pp(corev1.ProtocolTCP, dnsPort)] = "DNS"
			}
			egress := map[protoPort]string{}
			for _, np := range egressPolicies {
				for i, r := range np.Spec.Egress {
					at := fmt.Sprintf("NetworkPolicy/%s egress[%d]", np.Name, i)
					if openToAnyone(r.To) {
						bad("%s: allows connections to anywhere; name the destination", at)
					}
					ports, ps := policyPorts(at, r.Ports, nil)
					problems = append(problems, ps...)
					for _, p := range ports {
						egress[p] = np.Name
					}
				}
			}
			for p, why := range need {
				if _, ok := egress[p]; !ok {
					bad("%s: needs %s for %s, and no NetworkPolicy allows it out", where, p, why)
				}
			}
			for p, policy := range egress {
				if _, ok := need[p]; !ok {
					bad("%s: NetworkPolicy/%s lets it connect to %s, which no setting of %q needs", where, policy, p, command)
				}
			}
		}
	}

	// Every policy applies to some pod of the build.
	for _, np := range policies {
		hit := false
		for _, obj := range m.objects {
			if _, pod := podOf(obj); pod != nil {
				if ok, _ := selects(&np.Spec.PodSelector, pod.Labels); ok {
					hit = true
				}
			}
		}
		if !hit {
			bad("NetworkPolicy/%s selects no pod of the build", np.Name)
		}
	}
	sort.Strings(problems)
	return problems
}

// TestNetworkPolicies checks the policies of the base and the example
// overlay with checkNetworkPolicies, then that it catches what it is for:
// each mutation below, applied to a fresh build of the overlay, must be
// reported.
func TestNetworkPolicies(t *testing.T) {
	for _, dir := range []string{"deploy/kubernetes/base", "deploy/kubernetes/overlays/example"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			m := build(t, dir)
			for _, p := range checkNetworkPolicies(m) {
				t.Error(p)
			}
		})
	}

	policy := func(m manifests, name string) *networkingv1.NetworkPolicy {
		np, ok := m.objects["NetworkPolicy/"+name].(*networkingv1.NetworkPolicy)
		if !ok {
			t.Fatalf("no NetworkPolicy %s", name)
		}
		return np
	}
	container := func(m manifests, key string) *corev1.Container {
		_, pod := podOf(m.objects[key])
		if pod == nil {
			t.Fatalf("no workload %s", key)
		}
		return &pod.Spec.Containers[0]
	}
	port := func(p intstr.IntOrString) networkingv1.NetworkPolicyPort {
		tcp := corev1.ProtocolTCP
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &p}
	}
	for _, mc := range []struct {
		name   string
		mutate func(m manifests)
		want   string // in one of the problems; "" for none at all
	}{
		{"debug listener on, closed", func(m manifests) {
			c := container(m, "Deployment/watchparty-gateway")
			c.Env = append(c.Env, corev1.EnvVar{Name: "GATEWAY_DEBUG_ADDR", Value: ":6060"})
		}, ""},
		{"gateway port dropped", func(m manifests) {
			policy(m, "watchparty-gateway-ingress").Spec.Ingress = nil
		}, "listens on port 8080 (GATEWAY_ADDR) and no NetworkPolicy allows it"},
		{"flusher metrics policy gone", func(m manifests) {
			delete(m.objects, "NetworkPolicy/watchparty-flusher-metrics")
		}, "listens on port 9090 (FLUSHER_METRICS_ADDR) and no NetworkPolicy allows it"},
		{"gateway moved to another port", func(m manifests) {
			c := container(m, "Deployment/watchparty-gateway")
			for i := range c.Env {
				if c.Env[i].Name == "GATEWAY_ADDR" {
					c.Env[i].Value = ":8081"
				}
			}
		}, "listens on port 8081 (GATEWAY_ADDR) and no NetworkPolicy allows it"},
		{"debug listener opened", func(m manifests) {
			c := container(m, "Deployment/watchparty-gateway")
			c.Env = append(c.Env, corev1.EnvVar{Name: "GATEWAY_DEBUG_ADDR", Value: ":6060"})
			r := &policy(m, "watchparty-gateway-ingress").Spec.Ingress[0]
			r.Ports = append(r.Ports, port(intstr.FromInt32(6060)))
		}, "GATEWAY_DEBUG_ADDR (port 6060) must stay closed"},
		{"a port nothing listens on", func(m manifests) {
			r := &policy(m, "watchparty-gateway-ingress").Spec.Ingress[0]
			r.Ports = append(r.Ports, port(intstr.FromInt32(9999)))
		}, "allows TCP/9999, where the command listens on nothing"},
		{"metrics open to anyone", func(m manifests) {
			policy(m, "watchparty-flusher-metrics").Spec.Ingress[0].From = nil
		}, "opens TCP/9090 to anyone"},
		{"migration not isolated", func(m manifests) {
			delete(m.objects, "NetworkPolicy/watchparty-default-deny")
		}, "Job/watchparty-migrate: no NetworkPolicy isolates it for ingress"},
		{"no way to Redis", func(m manifests) {
			delete(m.objects, "NetworkPolicy/watchparty-egress-redis")
		}, "needs TCP/6379 for REDIS_URL"},
		{"egress to the world", func(m manifests) {
			np := policy(m, "watchparty-egress-postgresql")
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
				Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(443))}})
		}, "allows connections to anywhere"},
		{"egress nothing needs", func(m manifests) {
			np := policy(m, "watchparty-egress-redis")
			np.Spec.Egress[0].Ports = append(np.Spec.Egress[0].Ports, port(intstr.FromInt32(26379)))
		}, "lets it connect to TCP/26379, which no setting of \"gateway\" needs"},
	} {
		t.Run(mc.name, func(t *testing.T) {
			m := build(t, "deploy/kubernetes/overlays/example")
			mc.mutate(m)
			problems := checkNetworkPolicies(m)
			if mc.want == "" {
				for _, p := range problems {
					t.Error(p)
				}
				return
			}
			for _, p := range problems {
				if strings.Contains(p, mc.want) {
					t.Logf("reported: %s", p)
					return
				}
			}
			t.Errorf("not reported: %q; problems: %q", mc.want, problems)
		})
	}
}

// TestTopologySpread checks that the gateway and the flusher spread over
// zones and nodes: a constraint on each key that counts the workload's own
// pods.
func TestTopologySpread(t *testing.T) {
	for _, dir := range []string{"deploy/kubernetes/base", "deploy/kubernetes/overlays/example"} {
		m := build(t, dir)
		for _, key := range []string{"Deployment/watchparty-gateway", "StatefulSet/watchparty-flusher"} {
			name, pod := podOf(m.objects[key])
			if pod == nil {
				t.Fatalf("%s: no %s", dir, key)
			}
			for _, topologyKey := range []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"} {
				found := false
				for _, c := range pod.Spec.TopologySpreadConstraints {
					if c.TopologyKey != topologyKey {
						continue
					}
					found = true
					if ok, err := selects(c.LabelSelector, pod.Labels); !ok || err != nil {
						t.Errorf("%s: %s: the %s constraint does not count its own pods (%v)", dir, name, topologyKey, err)
					}
					if c.MaxSkew != 1 {
						t.Errorf("%s: %s: %s maxSkew %d, want 1", dir, name, topologyKey, c.MaxSkew)
					}
				}
				if !found {
					t.Errorf("%s: %s: no topologySpreadConstraint on %s", dir, name, topologyKey)
				}
			}
		}
	}
}
