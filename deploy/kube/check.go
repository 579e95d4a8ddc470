package kube

import (
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// Policy is what a deployment of memif-wasm may do beyond the least
// privilege Check enforces. The zero value allows nothing more.
type Policy struct {
	// HostPaths are the only host directories a pod may mount (VPP's
	// socket directory): each as a Directory that must exist, not a file or
	// a path created on demand.
	HostPaths []string
	// AllowRoot lets a pod run as UID 0 (to use a socket only root may
	// write); its capabilities must still all be dropped.
	AllowRoot bool
}

// ConfigKey is the ConfigMap key that holds memif-wasm's config.
const ConfigKey = "memif-wasm.yaml"

// Check holds objs to the deployment rules and returns every violation,
// each naming its object and field.
func Check(objs []Object, p Policy) error {
	c := checker{p: p, objs: objs}
	for _, o := range objs {
		c.meta(o)
		switch v := o.Obj.(type) {
		case *appsv1.DaemonSet:
			c.daemonSet(o, v)
		case *corev1.Service:
			c.service(o, v)
		case *monitoringv1.ServiceMonitor:
			c.serviceMonitor(o, v)
		}
	}
	if c.daemonSets == 0 {
		c.errf("no DaemonSet")
	}
	return errors.Join(c.errs...)
}

type checker struct {
	p          Policy
	objs       []Object
	errs       []error
	daemonSets int
}

func (c *checker) errf(format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, a...))
}

func (c *checker) meta(o Object) {
	m, ok := o.Obj.(metav1.Object)
	if !ok {
		c.errf("%s: no object metadata", o.GVK.Kind)
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
		c.errf("%s: metadata.name %q: %s", o.Name(), m.GetName(), msg)
	}
	if o.GVK.Kind != "Namespace" && m.GetNamespace() == "" {
		c.errf("%s: metadata.namespace is empty", o.Name())
	}
	for k, v := range m.GetLabels() {
		for _, msg := range validation.IsQualifiedName(k) {
			c.errf("%s: label key %q: %s", o.Name(), k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			c.errf("%s: label %s value %q: %s", o.Name(), k, v, msg)
		}
	}
}

// find returns the object of kind with name in namespace ns, or nil.
func find[T any](objs []Object, ns, name string) T {
	var zero T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			if m := any(v).(metav1.Object); m.GetNamespace() == ns && m.GetName() == name {
				return v
			}
		}
	}
	return zero
}

func (c *checker) daemonSet(o Object, ds *appsv1.DaemonSet) {
	c.daemonSets++
	n := o.Name()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || ds.Spec.Selector == nil || sel.Empty() {
		c.errf("%s: spec.selector is missing or invalid: %v", n, err)
	} else if !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		c.errf("%s: spec.selector %s does not select the pod template's labels %v", n, sel, ds.Spec.Template.Labels)
	}
	ps := &ds.Spec.Template.Spec
	if ps.HostNetwork || ps.HostPID || ps.HostIPC {
		c.errf("%s: the pod shares the host's network, PID or IPC namespace (hostNetwork %v, hostPID %v, hostIPC %v)", n, ps.HostNetwork, ps.HostPID, ps.HostIPC)
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		c.errf("%s: automountServiceAccountToken is not false: memif-wasm never calls the API server", n)
	}
	if sa := ps.ServiceAccountName; sa != "" && sa != "default" && find[*corev1.ServiceAccount](c.objs, ds.Namespace, sa) == nil {
		c.errf("%s: serviceAccountName %q: no such ServiceAccount in the manifests", n, sa)
	}
	if psc := ps.SecurityContext; psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.errf("%s: the pod's seccompProfile is not RuntimeDefault", n)
	}
	vols := map[string]*corev1.Volume{}
	for i := range ps.Volumes {
		v := &ps.Volumes[i]
		vols[v.Name] = v
		c.volume(n, ds.Namespace, v)
	}
	if len(ps.Containers) == 0 {
		c.errf("%s: no containers", n)
	}
	for i := range ps.InitContainers {
		c.container(n, ds.Namespace, ps, &ps.InitContainers[i], vols, false)
	}
	for i := range ps.Containers {
		c.container(n, ds.Namespace, ps, &ps.Containers[i], vols, true)
	}
	c.scrapeAnnotations(n, ds)
}

func (c *checker) volume(n, ns string, v *corev1.Volume) {
	switch {
	case v.HostPath != nil:
		if !slices.Contains(c.p.HostPaths, path.Clean(v.HostPath.Path)) {
			c.errf("%s: volume %s: hostPath %q is not one of the allowed %q", n, v.Name, v.HostPath.Path, c.p.HostPaths)
		}
		if v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectory {
			c.errf("%s: volume %s: hostPath type is not Directory (VPP's directory must exist, not be created)", n, v.Name)
		}
	case v.ConfigMap != nil:
		if find[*corev1.ConfigMap](c.objs, ns, v.ConfigMap.Name) == nil {
			c.errf("%s: volume %s: no ConfigMap %q in the manifests", n, v.Name, v.ConfigMap.Name)
		}
	case v.Secret != nil, v.EmptyDir != nil:
	default:
		c.errf("%s: volume %s: only hostPath, configMap, secret and emptyDir volumes are expected", n, v.Name)
	}
}

func (c *checker) container(n, ns string, ps *corev1.PodSpec, ct *corev1.Container, vols map[string]*corev1.Volume, main bool) {
	n = fmt.Sprintf("%s: container %s", n, ct.Name)
	if ct.Image == "" || strings.HasSuffix(ct.Image, ":latest") || !strings.ContainsAny(ct.Image, ":@") {
		c.errf("%s: image %q is not pinned to a tag or digest", n, ct.Image)
	}
	sc := ct.SecurityContext
	if sc == nil {
		c.errf("%s: no securityContext", n)
		return
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.errf("%s: privileged", n)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.errf("%s: allowPrivilegeEscalation is not false", n)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.errf("%s: readOnlyRootFilesystem is not true", n)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		c.errf("%s: capabilities do not drop ALL", n)
	} else if len(sc.Capabilities.Add) > 0 {
		c.errf("%s: capabilities add %v: memif-wasm needs none", n, sc.Capabilities.Add)
	}
	if !c.p.AllowRoot && !nonRoot(ps.SecurityContext, sc) {
		c.errf("%s: may run as root: set runAsNonRoot and a non-zero runAsUser (or allow root in the policy)", n)
	}
	for _, m := range ct.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			c.errf("%s: volumeMount %s: no such volume", n, m.Name)
			continue
		}
		if (v.ConfigMap != nil || v.Secret != nil) && !m.ReadOnly {
			c.errf("%s: volumeMount %s of a ConfigMap or Secret is not readOnly", n, m.Name)
		}
	}
	if main {
		c.probesAndConfig(n, ns, ps, ct)
	}
}

func nonRoot(pod *corev1.PodSecurityContext, sc *corev1.SecurityContext) bool {
	runAsNonRoot, uid := sc.RunAsNonRoot, sc.RunAsUser
	if pod != nil {
		if runAsNonRoot == nil {
			runAsNonRoot = pod.RunAsNonRoot
		}
		if uid == nil {
			uid = pod.RunAsUser
		}
	}
	return runAsNonRoot != nil && *runAsNonRoot && (uid == nil || *uid != 0)
}

// metricsPort is the container's port named "metrics".
func metricsPort(ct *corev1.Container) (int32, bool) {
	for _, p := range ct.Ports {
		if p.Name == "metrics" {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// httpProbe checks that p is an HTTP GET of path on the metrics port.
func (c *checker) httpProbe(n, what string, p *corev1.Probe, want string, port int32) {
	if p == nil || p.HTTPGet == nil {
		c.errf("%s: %s is not an HTTP probe of %s", n, what, want)
		return
	}
	if p.HTTPGet.Path != want {
		c.errf("%s: %s path %q, want %q", n, what, p.HTTPGet.Path, want)
	}
	if pp := p.HTTPGet.Port; !(pp.Type == intstr.String && pp.StrVal == "metrics") && !(pp.Type == intstr.Int && pp.IntVal == port) {
		c.errf("%s: %s port %s is not the metrics port %d", n, what, pp.String(), port)
	}
}

// probesAndConfig checks that the probes and the config's metrics address
// agree on the metrics port, and that --config names the mounted ConfigMap.
func (c *checker) probesAndConfig(n, ns string, ps *corev1.PodSpec, ct *corev1.Container) {
	port, ok := metricsPort(ct)
	if !ok {
		c.errf("%s: no container port named metrics", n)
	}
	c.httpProbe(n, "readinessProbe", ct.ReadinessProbe, "/readyz", port)
	c.httpProbe(n, "livenessProbe", ct.LivenessProbe, "/healthz", port)

	i := slices.Index(ct.Args, "--config")
	if i < 0 || i+1 >= len(ct.Args) {
		c.errf("%s: args %q have no --config FILE", n, ct.Args)
		return
	}
	file := ct.Args[i+1]
	var cm *corev1.ConfigMap
	for _, m := range ct.VolumeMounts {
		if path.Dir(file) != path.Clean(m.MountPath) || m.SubPath != "" {
			continue
		}
		for _, v := range ps.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm = find[*corev1.ConfigMap](c.objs, ns, v.ConfigMap.Name)
			}
		}
	}
	if cm == nil {
		c.errf("%s: --config %s is not in a mounted ConfigMap (whole, not subPath: kubelet updates it in place)", n, file)
		return
	}
	key := path.Base(file)
	text, ok := cm.Data[key]
	if !ok {
		c.errf("%s: ConfigMap %s has no key %s for --config %s", n, cm.Name, key, file)
		return
	}
	var cfg struct {
		Metrics struct {
			Addr string `json:"addr"`
		} `json:"metrics"`
	}
	if err := sigsyaml.Unmarshal([]byte(text), &cfg); err != nil {
		c.errf("%s: ConfigMap %s key %s is not YAML: %v", n, cm.Name, key, err)
		return
	}
	host, p, err := net.SplitHostPort(cfg.Metrics.Addr)
	if err != nil {
		c.errf("%s: config metrics.addr %q: %v (the probes need it)", n, cfg.Metrics.Addr, err)
		return
	}
	if p != strconv.Itoa(int(port)) {
		c.errf("%s: config metrics.addr %q is not on the metrics port %d", n, cfg.Metrics.Addr, port)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		c.errf("%s: config metrics.addr %q is loopback: the kubelet's probes and Prometheus cannot reach it", n, cfg.Metrics.Addr)
	}
}

func (c *checker) scrapeAnnotations(n string, ds *appsv1.DaemonSet) {
	a := ds.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" {
		return
	}
	port := a["prometheus.io/port"]
	for _, ct := range ds.Spec.Template.Spec.Containers {
		if p, ok := metricsPort(&ct); ok && strconv.Itoa(int(p)) == port {
			return
		}
	}
	c.errf("%s: prometheus.io/port %q is no container's metrics port", n, port)
}

// podsSelected returns the DaemonSets whose pod labels sel matches.
func (c *checker) podsSelected(ns string, sel labels.Selector) []*appsv1.DaemonSet {
	var out []*appsv1.DaemonSet
	for _, o := range c.objs {
		if ds, ok := o.Obj.(*appsv1.DaemonSet); ok && ds.Namespace == ns && sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
			out = append(out, ds)
		}
	}
	return out
}

func (c *checker) service(o Object, s *corev1.Service) {
	n := o.Name()
	if len(s.Spec.Selector) == 0 {
		c.errf("%s: no selector", n)
		return
	}
	dss := c.podsSelected(s.Namespace, labels.SelectorFromSet(s.Spec.Selector))
	if len(dss) == 0 {
		c.errf("%s: selector %v matches no DaemonSet's pods", n, s.Spec.Selector)
		return
	}
	for _, sp := range s.Spec.Ports {
		if sp.TargetPort.Type != intstr.String {
			continue
		}
		found := false
		for _, ds := range dss {
			for _, ct := range ds.Spec.Template.Spec.Containers {
				for _, cp := range ct.Ports {
					found = found || cp.Name == sp.TargetPort.StrVal
				}
			}
		}
		if !found {
			c.errf("%s: port %s: targetPort %q names no container port", n, sp.Name, sp.TargetPort.StrVal)
		}
	}
}

func (c *checker) serviceMonitor(o Object, sm *monitoringv1.ServiceMonitor) {
	n := o.Name()
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || sel.Empty() {
		c.errf("%s: spec.selector is empty or invalid: %v", n, err)
		return
	}
	nss := sm.Spec.NamespaceSelector.MatchNames
	if len(nss) == 0 {
		nss = []string{sm.Namespace}
	}
	var svcs []*corev1.Service
	for _, x := range c.objs {
		if s, ok := x.Obj.(*corev1.Service); ok && slices.Contains(nss, s.Namespace) && sel.Matches(labels.Set(s.Labels)) {
			svcs = append(svcs, s)
		}
	}
	if len(svcs) == 0 {
		c.errf("%s: selector %s matches no Service", n, sel)
		return
	}
	if len(sm.Spec.Endpoints) == 0 {
		c.errf("%s: no endpoints", n)
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Port == "" {
			c.errf("%s: an endpoint has no port name", n)
			continue
		}
		found := false
		for _, s := range svcs {
			for _, sp := range s.Spec.Ports {
				found = found || sp.Name == ep.Port
			}
		}
		if !found {
			c.errf("%s: endpoint port %q is no selected Service's port", n, ep.Port)
		}
	}
}
