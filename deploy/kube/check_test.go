package kube_test

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
	"github.com/memif-wasm/memif-wasm/deploy/kube"
)

func ptr[T any](v T) *T { return &v }

// TestCheckRefuses breaks one rule at a time in the chart's rendering (with
// a ServiceMonitor) and expects Check to name it.
func TestCheckRefuses(t *testing.T) {
	type objs = []kube.Object
	ds := func(o objs) *appsv1.DaemonSet {
		for _, x := range o {
			if d, ok := x.Obj.(*appsv1.DaemonSet); ok {
				return d
			}
		}
		return nil
	}
	ct := func(o objs) *corev1.Container { return &ds(o).Spec.Template.Spec.Containers[0] }
	cm := func(o objs) *corev1.ConfigMap {
		for _, x := range o {
			if c, ok := x.Obj.(*corev1.ConfigMap); ok {
				return c
			}
		}
		return nil
	}
	cases := []struct {
		name    string
		breakIt func(objs) objs
		want    string
	}{
		{"host network", func(o objs) objs { ds(o).Spec.Template.Spec.HostNetwork = true; return o }, "host's network"},
		{"host IPC", func(o objs) objs { ds(o).Spec.Template.Spec.HostIPC = true; return o }, "hostIPC true"},
		{"privileged", func(o objs) objs { ct(o).SecurityContext.Privileged = ptr(true); return o }, "privileged"},
		{"privilege escalation", func(o objs) objs { ct(o).SecurityContext.AllowPrivilegeEscalation = nil; return o }, "allowPrivilegeEscalation"},
		{"writable root", func(o objs) objs { ct(o).SecurityContext.ReadOnlyRootFilesystem = ptr(false); return o }, "readOnlyRootFilesystem"},
		{"capabilities kept", func(o objs) objs { ct(o).SecurityContext.Capabilities.Drop = nil; return o }, "drop ALL"},
		{"capability added", func(o objs) objs {
			ct(o).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
			return o
		}, "NET_ADMIN"},
		{"no security context", func(o objs) objs { ct(o).SecurityContext = nil; return o }, "no securityContext"},
		{"root", func(o objs) objs { ds(o).Spec.Template.Spec.SecurityContext.RunAsUser = ptr(int64(0)); return o }, "may run as root"},
		{"no runAsNonRoot", func(o objs) objs { ds(o).Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil; return o }, "may run as root"},
		{"no seccomp", func(o objs) objs { ds(o).Spec.Template.Spec.SecurityContext.SeccompProfile = nil; return o }, "seccompProfile"},
		{"token mounted", func(o objs) objs { ds(o).Spec.Template.Spec.AutomountServiceAccountToken = nil; return o }, "automountServiceAccountToken"},
		{"other host path", func(o objs) objs {
			ds(o).Spec.Template.Spec.Volumes[0].HostPath.Path = "/var/run/docker.sock"
			return o
		}, "docker.sock"},
		{"host path created", func(o objs) objs {
			ds(o).Spec.Template.Spec.Volumes[0].HostPath.Type = ptr(corev1.HostPathDirectoryOrCreate)
			return o
		}, "not Directory"},
		{"no readiness", func(o objs) objs { ct(o).ReadinessProbe = nil; return o }, "readinessProbe is not an HTTP probe of /readyz"},
		{"readiness elsewhere", func(o objs) objs { ct(o).ReadinessProbe.HTTPGet.Path = "/metrics"; return o }, `"/metrics", want "/readyz"`},
		{"liveness other port", func(o objs) objs { ct(o).LivenessProbe.HTTPGet.Port = intstr.FromInt32(8080); return o }, "livenessProbe port 8080"},
		{"latest image", func(o objs) objs { ct(o).Image = "memif-wasm:latest"; return o }, "not pinned"},
		{"config by subPath", func(o objs) objs {
			for i := range ct(o).VolumeMounts {
				if m := &ct(o).VolumeMounts[i]; m.Name == "config" {
					m.MountPath, m.SubPath = "/etc/memif-wasm/config", "memif-wasm.yaml"
				}
			}
			return o
		}, "not in a mounted ConfigMap"},
		{"config key missing", func(o objs) objs { delete(cm(o).Data, kube.ConfigKey); return o }, "has no key memif-wasm.yaml"},
		{"metrics on loopback", func(o objs) objs {
			cm(o).Data[kube.ConfigKey] = "metrics:\n  addr: 127.0.0.1:9190\n"
			return o
		}, "loopback"},
		{"metrics on another port", func(o objs) objs {
			cm(o).Data[kube.ConfigKey] = "metrics:\n  addr: 0.0.0.0:9999\n"
			return o
		}, "not on the metrics port"},
		{"no metrics", func(o objs) objs { cm(o).Data[kube.ConfigKey] = "tenants: []\n"; return o }, "metrics.addr"},
		{"config not YAML", func(o objs) objs { cm(o).Data[kube.ConfigKey] = "a: [\n"; return o }, "not YAML"},
		{"scrape port wrong", func(o objs) objs {
			ds(o).Spec.Template.Annotations["prometheus.io/port"] = "1234"
			return o
		}, "prometheus.io/port"},
		{"selector mismatch", func(o objs) objs {
			ds(o).Spec.Template.Labels["app.kubernetes.io/instance"] = "other"
			return o
		}, "does not select"},
		{"missing config map", func(o objs) objs {
			var out objs
			for _, x := range o {
				if _, ok := x.Obj.(*corev1.ConfigMap); !ok {
					out = append(out, x)
				}
			}
			return out
		}, `no ConfigMap "memif-wasm"`},
		{"missing service account", func(o objs) objs {
			var out objs
			for _, x := range o {
				if _, ok := x.Obj.(*corev1.ServiceAccount); !ok {
					out = append(out, x)
				}
			}
			return out
		}, "no such ServiceAccount"},
		{"service target port", func(o objs) objs {
			for _, x := range o {
				if s, ok := x.Obj.(*corev1.Service); ok {
					s.Spec.Ports[0].TargetPort = intstr.FromString("http")
				}
			}
			return o
		}, `targetPort "http"`},
		{"service monitor port", func(o objs) objs {
			for _, x := range o {
				if s, ok := x.Obj.(*monitoringv1.ServiceMonitor); ok {
					s.Spec.Endpoints[0].Port = "web"
				}
			}
			return o
		}, `endpoint port "web"`},
		{"service monitor selects nothing", func(o objs) objs {
			for _, x := range o {
				if s, ok := x.Obj.(*monitoringv1.ServiceMonitor); ok {
					s.Spec.Selector.MatchLabels = map[string]string{"app": "else"}
				}
			}
			return o
		}, "matches no Service"},
		{"bad label", func(o objs) objs { ds(o).Labels["bad key!"] = "x"; return o }, "label key"},
		{"no daemonset", func(o objs) objs { return o[:1] }, "no DaemonSet"},
	}
	o := chart.Options{Values: map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}}
	if err := kube.Check(render(t, o), vppPolicy); err != nil {
		t.Fatalf("the unbroken rendering: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := kube.Check(c.breakIt(render(t, o)), vppPolicy)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v; want an error containing %q", err, c.want)
			}
		})
	}
}
