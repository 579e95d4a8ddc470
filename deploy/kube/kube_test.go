package kube_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
	"github.com/memif-wasm/memif-wasm/deploy/kube"
)

const (
	chartDir     = "../helm/memif-wasm"
	manifestsDir = "../kubernetes"
)

// vppPolicy is what the chart's pods may do beyond least privilege: mount
// VPP's socket directory.
var vppPolicy = kube.Policy{HostPaths: []string{"/run/vpp"}}

func render(t *testing.T, o chart.Options) []kube.Object {
	t.Helper()
	ms, err := chart.Render(chartDir, o)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode(strings.NewReader(chart.Join(ms)))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func only[T any](t *testing.T, objs []kube.Object) []T {
	t.Helper()
	var out []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func daemonSet(t *testing.T, objs []kube.Object) *appsv1.DaemonSet {
	t.Helper()
	ds := only[*appsv1.DaemonSet](t, objs)
	if len(ds) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(ds))
	}
	return ds[0]
}

func kinds(objs []kube.Object) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o.GVK.Kind)
	}
	return k
}

// TestRepoManifests decodes every plain manifest under deploy/kubernetes
// strictly and holds them, together, to the deployment rules.
func TestRepoManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(manifestsDir, "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	var all []kube.Object
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := kube.Decode(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, objs...)
	}
	if err := kube.Check(all, vppPolicy); err != nil {
		t.Fatal(err)
	}
	want := []string{"Namespace", "ServiceAccount", "ConfigMap", "Service", "DaemonSet"}
	for _, k := range want {
		if !slices.Contains(kinds(all), k) {
			t.Errorf("no %s in %s (kinds %v)", k, manifestsDir, kinds(all))
		}
	}
}

// TestManifestsMatchChart keeps deploy/kubernetes/memif-wasm.yaml what the
// chart renders with its default values.
func TestManifestsMatchChart(t *testing.T) {
	ms, err := chart.Render(chartDir, chart.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := chart.Generated("helm/memif-wasm", chart.Options{}) + chart.Join(ms)
	got, err := os.ReadFile(filepath.Join(manifestsDir, "memif-wasm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("deploy/kubernetes/memif-wasm.yaml differs from the chart's rendering: run `make manifests`")
	}
}

func TestChartDefault(t *testing.T) {
	objs := render(t, chart.Options{})
	if err := kube.Check(objs, vppPolicy); err != nil {
		t.Fatal(err)
	}
	if got := kinds(objs); !slices.Equal(got, []string{"ServiceAccount", "ConfigMap", "Service", "DaemonSet"}) {
		t.Errorf("kinds %v", got)
	}
	ds := daemonSet(t, objs)
	ps := ds.Spec.Template.Spec
	if *ps.SecurityContext.RunAsUser != 65532 || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("pod security context %+v", ps.SecurityContext)
	}
	vm := ps.Containers[0].VolumeMounts[0]
	if vm.MountPath != "/run/vpp" || !vm.ReadOnly {
		t.Errorf("VPP's socket directory mounted %+v, want /run/vpp read-only", vm)
	}
	if ds.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a config change would not roll the pods")
	}
	if ps.Containers[0].Image != "ghcr.io/memif-wasm/memif-wasm:0.1.0" {
		t.Errorf("image %s", ps.Containers[0].Image)
	}
}

func TestChartOCIPlugins(t *testing.T) {
	objs := render(t, chart.Options{Release: "edge", Namespace: "dataplane", ValuesFiles: []string{chartDir + "/ci/oci-plugins-values.yaml"}})
	if err := kube.Check(objs, vppPolicy); err != nil {
		t.Fatal(err)
	}
	if sms := only[*monitoringv1.ServiceMonitor](t, objs); len(sms) != 1 || sms[0].Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor %v", sms)
	}
	ds := daemonSet(t, objs)
	ps := ds.Spec.Template.Spec
	if !slices.Equal(ps.SecurityContext.SupplementalGroups, []int64{998}) {
		t.Errorf("supplementalGroups %v, want VPP's group 998", ps.SecurityContext.SupplementalGroups)
	}
	ct := ps.Containers[0]
	if !strings.HasSuffix(ct.Image, "@sha256:0000000000000000000000000000000000000000000000000000000000000000") {
		t.Errorf("image %s is not pinned by digest", ct.Image)
	}
	if len(ct.Env) != 1 || ct.Env[0].Name != "DOCKER_CONFIG" || ct.Env[0].Value != "/etc/memif-wasm/registry" {
		t.Errorf("env %v", ct.Env)
	}
	var cfg *corev1.ConfigMap
	var keys *corev1.ConfigMap
	for _, cm := range only[*corev1.ConfigMap](t, objs) {
		switch cm.Name {
		case "edge-memif-wasm":
			cfg = cm
		case "edge-memif-wasm-keys":
			keys = cm
		}
	}
	if cfg == nil || keys == nil {
		t.Fatalf("ConfigMaps: config %v, keys %v", cfg, keys)
	}
	if !strings.Contains(cfg.Data[kube.ConfigKey], "source: oci://registry.example.com/memif-wasm/plugins/acl@sha256:") {
		t.Errorf("config lacks the OCI plugin:\n%s", cfg.Data[kube.ConfigKey])
	}
	for _, want := range []string{"docker_config: /etc/memif-wasm/registry/config.json", "cache_dir: /var/cache/memif-wasm/registry", "- /etc/memif-wasm/keys/release.pub"} {
		if !strings.Contains(cfg.Data[kube.ConfigKey], want) {
			t.Errorf("config lacks %q:\n%s", want, cfg.Data[kube.ConfigKey])
		}
	}
	if !strings.HasPrefix(keys.Data["release.pub"], "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("keys %v", keys.Data)
	}
}

func TestChartMasterAsRoot(t *testing.T) {
	o := chart.Options{ValuesFiles: []string{chartDir + "/ci/master-root-values.yaml"}}
	objs := render(t, o)
	err := kube.Check(objs, vppPolicy)
	if err == nil || !strings.Contains(err.Error(), "may run as root") {
		t.Fatalf("root pod under the non-root policy: %v", err)
	}
	if err := kube.Check(objs, kube.Policy{HostPaths: []string{"/run/vpp"}, AllowRoot: true}); err != nil {
		t.Fatal(err)
	}
	ds := daemonSet(t, objs)
	if ds.Name != "mw" {
		t.Errorf("fullnameOverride: name %s", ds.Name)
	}
	if vm := ds.Spec.Template.Spec.Containers[0].VolumeMounts[0]; vm.ReadOnly {
		t.Error("a master's socket directory is mounted read-only")
	}
	if len(only[*corev1.Service](t, objs)) != 0 || len(only[*corev1.ServiceAccount](t, objs)) != 0 {
		t.Errorf("kinds %v: service and service account are disabled", kinds(objs))
	}
	if _, ok := ds.Spec.Template.Annotations["checksum/config"]; ok {
		t.Error("rollOnConfigChange false still rolls")
	}
}

func TestChartLint(t *testing.T) {
	for _, vf := range [][]string{nil, {chartDir + "/ci/oci-plugins-values.yaml"}, {chartDir + "/ci/master-root-values.yaml"}} {
		if err := chart.Lint(chartDir, chart.Options{ValuesFiles: vf}); err != nil {
			t.Errorf("helm lint with %v: %v", vf, err)
		}
	}
}

// TestChartValuesRefused: values the schema refuses fail the rendering
// with the schema's reason, before any manifest is made.
func TestChartValuesRefused(t *testing.T) {
	cases := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"unknown top key", map[string]any{"hostNetwork": true}, "hostNetwork"},
		{"unknown nested key", map[string]any{"vpp": map[string]any{"socketDirectory": "/x"}}, "socketDirectory"},
		{"privileged port", map[string]any{"metrics": map[string]any{"port": 80}}, "port"},
		{"port as string", map[string]any{"metrics": map[string]any{"port": "9190"}}, "port"},
		{"relative socket dir", map[string]any{"vpp": map[string]any{"socketDir": "run/vpp"}}, "socketDir"},
		{"whole /run", map[string]any{"vpp": map[string]any{"socketDir": "/run"}}, "socketDir"},
		{"bad digest", map[string]any{"image": map[string]any{"digest": "sha256:1234"}}, "digest"},
		{"bad pull policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "pullPolicy"},
		{"key not PEM", map[string]any{"trustedKeys": map[string]any{"k.pub": "hello"}}, "trustedKeys"},
		{"key name with slash", map[string]any{"trustedKeys": map[string]any{"../k": "-----BEGIN PUBLIC KEY-----"}}, "../k"},
		{"config without tenants", map[string]any{"config": map[string]any{"tenants": []any{}}}, "tenants"},
		{"negative group", map[string]any{"vpp": map[string]any{"socketGroup": -1}}, "socketGroup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms, err := chart.Render(chartDir, chart.Options{Values: c.vals})
			if err == nil || !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render = %d manifests, %v; want a schema error naming %q", len(ms), err, c.want)
			}
		})
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "v.yaml")
	if err := os.WriteFile(bad, []byte("vpp:\n  readOnly: true\n  readOnly: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := chart.Render(chartDir, chart.Options{ValuesFiles: []string{bad}}); err == nil || !strings.Contains(err.Error(), "readOnly") {
		t.Errorf("duplicate key in a values file: %v", err)
	}
	if _, err := chart.Render(chartDir, chart.Options{ValuesFiles: []string{filepath.Join(dir, "none.yaml")}}); err == nil {
		t.Error("missing values file: no error")
	}
	if _, err := chart.Render(dir, chart.Options{}); err == nil {
		t.Error("a directory without a chart: no error")
	}
}

// TestChartValuesMerge: later values files and Values override earlier ones
// key by key, as helm's -f and --set do.
func TestChartValuesMerge(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte("metrics:\n  port: 9300\n  scrapeAnnotations: false\n"), 0o644)
	os.WriteFile(b, []byte("metrics:\n  port: 9400\n"), 0o644)
	objs := render(t, chart.Options{ValuesFiles: []string{a, b}, Values: map[string]any{"vpp": map[string]any{"socketGroup": 42}}})
	ds := daemonSet(t, objs)
	ct := ds.Spec.Template.Spec.Containers[0]
	if ct.Ports[0].ContainerPort != 9400 {
		t.Errorf("port %d, want the later file's 9400", ct.Ports[0].ContainerPort)
	}
	if _, ok := ds.Spec.Template.Annotations["prometheus.io/scrape"]; ok {
		t.Error("the earlier file's scrapeAnnotations: false was lost")
	}
	if !slices.Equal(ds.Spec.Template.Spec.SecurityContext.SupplementalGroups, []int64{42}) {
		t.Error("Values did not override")
	}
	if err := kube.Check(objs, vppPolicy); err != nil {
		t.Fatal(err)
	}
}
