// Package kube checks Kubernetes manifests the way the API server would
// read them, offline: every document is decoded strictly (unknown or
// duplicate fields, wrong case, wrong types are errors) into the typed API
// objects of k8s.io/api (and prometheus-operator's for a ServiceMonitor),
// then [Check] holds the set to memif-wasm's deployment rules: least
// privilege, probes and scraping on the metrics port, references that
// resolve.
package kube

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	Doc int // 1-based position in its stream
	GVK schema.GroupVersionKind
	Obj runtime.Object
}

// Name is KIND/NAMESPACE/NAME, for messages.
func (o Object) Name() string {
	m, ok := o.Obj.(interface {
		GetName() string
		GetNamespace() string
	})
	if !ok {
		return o.GVK.Kind
	}
	return o.GVK.Kind + "/" + m.GetNamespace() + "/" + m.GetName()
}

var (
	scheme  = runtime.NewScheme()
	decoder runtime.Decoder
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err) // the registrations are static: a failure is a build defect
		}
	}
	decoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}

// Kinds this package decodes. Anything else in a stream is an error: the
// deployment has no other kind, so another one is a mistake.
var Kinds = []schema.GroupVersionKind{
	corev1.SchemeGroupVersion.WithKind("Namespace"),
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
	corev1.SchemeGroupVersion.WithKind("ConfigMap"),
	corev1.SchemeGroupVersion.WithKind("Secret"),
	corev1.SchemeGroupVersion.WithKind("Service"),
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
	monitoringv1.SchemeGroupVersion.WithKind("ServiceMonitor"),
}

// Decode reads a multi-document YAML stream into typed objects. Documents
// that hold only comments are skipped.
func Decode(r io.Reader) ([]Object, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var out []Object
	for n := 1; ; n++ {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if empty(doc) {
			continue
		}
		o, err := decodeDoc(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		o.Doc = n
		out = append(out, o)
	}
}

func empty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && l != "---" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func decodeDoc(doc []byte) (Object, error) {
	// Duplicate keys first: the JSON decoder after YAML conversion would
	// see only the last one.
	var probe map[string]any
	if err := sigsyaml.UnmarshalStrict(doc, &probe); err != nil {
		return Object{}, err
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, err
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return Object{}, err
	}
	gvk := gv.WithKind(tm.Kind)
	known := false
	for _, k := range Kinds {
		known = known || k == gvk
	}
	if !known {
		return Object{}, fmt.Errorf("kind %q of apiVersion %q is none of %v", tm.Kind, tm.APIVersion, Kinds)
	}
	obj, got, err := decoder.Decode(bytes.TrimSpace(doc), nil, nil)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	return Object{GVK: *got, Obj: obj}, nil
}
