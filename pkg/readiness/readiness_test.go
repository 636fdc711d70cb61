package readiness

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func TestJobReadiness(t *testing.T) {
	jobWith := func(spec, status string) *unstructured.Unstructured {
		return parse(t, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train, namespace: ml}\nspec: "+spec+"\nstatus: "+status+"\n")
	}
	const started = "startTime: '2026-01-01T00:00:00Z'"
	tests := []struct {
		name string
		job  *unstructured.Unstructured
		// count stands for listing the Job's ready pods; nil when the
		// status must suffice.
		count func() (int64, error)
		want  Verdict
	}{
		{name: "started, every pod Pending", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", active: 2, ready: 0}"),
			want: Verdict{Waiting: "0/2 pods running"}},
		{name: "one of two running", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", active: 2, ready: 1}"),
			want: Verdict{Waiting: "1/2 pods running"}},
		{name: "all parallelism pods running", job: jobWith("{parallelism: 2, completions: 8}", "{"+started+", active: 2, ready: 2}"),
			want: Verdict{Ready: true}},
		{name: "parallelism defaults to one", job: jobWith("{completions: 3}", "{"+started+", active: 1, ready: 1}"),
			want: Verdict{Ready: true}},
		{name: "fewer left to run than parallelism", job: jobWith("{parallelism: 4, completions: 5}", "{"+started+", active: 2, ready: 2, succeeded: 3}"),
			want: Verdict{Ready: true}},
		{name: "fewer left, not all of them running", job: jobWith("{parallelism: 4, completions: 5}", "{"+started+", active: 2, ready: 1, succeeded: 3}"),
			want: Verdict{Waiting: "1/2 pods running"}},
		{name: "work queue, one pod succeeded", job: jobWith("{parallelism: 3}", "{"+started+", active: 2, ready: 2, succeeded: 1}"),
			want: Verdict{Ready: true}},
		{name: "work queue, none running", job: jobWith("{parallelism: 3}", "{"+started+", active: 3, ready: 0}"),
			want: Verdict{Waiting: "0/3 pods running"}},
		{name: "succeeded all completions, condition not yet set", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", succeeded: 2}"),
			want: Verdict{Ready: true}},
		{name: "complete", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", conditions: [{type: Complete, status: 'True'}]}"),
			want: Verdict{Ready: true}},
		{name: "failed, with reason and message", job: jobWith("{completions: 1}",
			"{"+started+", failed: 7, conditions: [{type: Failed, status: 'True', reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]}"),
			want: Verdict{Failed: "BackoffLimitExceeded: Job has reached the specified backoff limit"}},
		{name: "failed, reason only", job: jobWith("{completions: 1}", "{"+started+", conditions: [{type: Failed, status: 'True', reason: DeadlineExceeded}]}"),
			want: Verdict{Failed: "DeadlineExceeded"}},
		{name: "condition Failed False is no failure", job: jobWith("{completions: 1}", "{"+started+", active: 1, ready: 0, conditions: [{type: Failed, status: 'False'}]}"),
			want: Verdict{Waiting: "0/1 pods running"}},
		{name: "pods failing and retried", job: jobWith("{completions: 1}", "{"+started+", active: 1, ready: 0, failed: 3}"),
			want: Verdict{Waiting: "0/1 pods running, 3 failed"}},
		{name: "suspended", job: jobWith("{completions: 1, suspend: true}", "{}"),
			want: Verdict{Waiting: "suspended"}},
		{name: "not started: no pods to count", job: jobWith("{parallelism: 2, completions: 2}", "{}"),
			want: Verdict{Waiting: "0/2 pods running"}},
		{name: "no status.ready: pods counted", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", active: 2}"),
			count: func() (int64, error) { return 2, nil }, want: Verdict{Ready: true}},
		{name: "no status.ready: too few ready", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", active: 2}"),
			count: func() (int64, error) { return 1, nil }, want: Verdict{Waiting: "1/2 pods running"}},
		{name: "no status.ready: counting fails", job: jobWith("{parallelism: 2, completions: 2}", "{"+started+", active: 2}"),
			count: func() (int64, error) { return 0, errors.New("pods is forbidden") }, want: Verdict{Waiting: "counting its ready pods: pods is forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count := tt.count
			if count == nil {
				count = func() (int64, error) {
					t.Error("counted pods; the Job's status says enough")
					return 0, nil
				}
			}
			if got := Of(tt.job, count); got != tt.want {
				t.Errorf("Of = %+v, want %+v", got, tt.want)
			}
		})
	}

	// Why the rule exists: kstatus calls a started Job Current however
	// many of its pods run.
	res, err := status.Compute(tests[0].job)
	if err != nil || res.Status != status.CurrentStatus {
		t.Errorf("kstatus on a started Job with every pod Pending: %v, %v; the rule above assumes Current", res, err)
	}
}

func TestUnschedulable(t *testing.T) {
	pod := func(status string) map[string]any {
		return parse(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: "+status+"\n").Object
	}
	const noGPU = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
	tests := []struct {
		name string
		pod  map[string]any
		want string
		ok   bool
	}{
		{"not schedulable", pod("{phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable, message: '" + noGPU + "'}]}"), noGPU, true},
		{"without why preemption would not help", pod("{phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable, message: '" + noGPU +
			" preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.'}]}"), noGPU, true},
		{"no message: the reason", pod("{phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: SchedulingGated}]}"), "SchedulingGated", true},
		{"scheduled, still starting", pod("{phase: Pending, conditions: [{type: PodScheduled, status: 'True'}]}"), "", false},
		{"not tried yet", pod("{phase: Pending}"), "", false},
		{"running", pod("{phase: Running, conditions: [{type: PodScheduled, status: 'True'}, {type: Ready, status: 'True'}]}"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Unschedulable(tt.pod)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Unschedulable = %q, %t; want %q, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPendingPods(t *testing.T) {
	const (
		gpu  = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
		cpu  = "0/3 nodes are available: 3 Insufficient cpu."
		gate = "SchedulingGated"
	)
	tests := []struct {
		name    string
		reasons []string
		want    string
	}{
		{"one", []string{gpu}, "1 pod Pending: " + gpu},
		{"identical grouped", []string{gpu, gpu}, "2 pods Pending: " + gpu},
		{"most common first", []string{cpu, gpu, gpu}, "2 pods Pending: " + gpu + "; 1 pod Pending: " + cpu},
		{"ties in message order", []string{gpu, gate, cpu}, "1 pod Pending: " + cpu + "; 1 pod Pending: " + gpu + "; 1 pod Pending: " + gate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pendingPods(tt.reasons); got != tt.want {
				t.Errorf("PendingPods = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestOf judges kinds other than Job by kstatus, with replicas counted for
// workloads, as apply's wait always has.
func TestOf(t *testing.T) {
	const never = "the status must suffice"
	tests := []struct {
		name string
		obj  string
		want Verdict
	}{
		{"ConfigMap exists", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ml}\n", Verdict{Ready: true}},
		{"Namespace active", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ml}\nstatus: {phase: Active}\n", Verdict{Ready: true}},
		{"Namespace terminating", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ml, deletionTimestamp: '2026-01-01T00:00:00Z'}\nstatus: {phase: Terminating}\n",
			Verdict{Waiting: "Resource scheduled for deletion"}},
		{"Deployment available", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 1}\nspec: {replicas: 2}\n" +
			"status: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [{type: Available, status: 'True'}]}\n",
			Verdict{Ready: true}},
		{"Deployment short of replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 1}\nspec: {replicas: 3}\n" +
			"status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 1, availableReplicas: 1}\n",
			Verdict{Waiting: "1/3 replicas available"}},
		{"Deployment at zero (warm standby)", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 1}\nspec: {replicas: 0}\n" +
			"status: {observedGeneration: 1, conditions: [{type: Available, status: 'True'}]}\n",
			Verdict{Ready: true}},
		{"StatefulSet short of replicas", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s, generation: 1}\nspec: {replicas: 2}\n" +
			"status: {observedGeneration: 1, replicas: 2, readyReplicas: 0, availableReplicas: 0}\n",
			Verdict{Waiting: "0/2 replicas available"}},
		{"crash-looping Pod fails", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n" +
			"status: {phase: Running, containerStatuses: [{name: main, state: {waiting: {reason: CrashLoopBackOff}}}]}\n",
			Verdict{Failed: "Containers in CrashLoop state: main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Of(parse(t, tt.obj), func() (int64, error) { t.Error(never); return 0, nil })
			if got != tt.want {
				t.Errorf("Of = %+v, want %+v", got, tt.want)
			}
			if got.Ready && got.Message() != "" || !got.Ready && got.Message() == "" {
				t.Errorf("Message() = %q for %+v", got.Message(), got)
			}
		})
	}
}

func TestWaitingFor(t *testing.T) {
	deploy := func(spec, status string) *unstructured.Unstructured {
		return parse(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, generation: 2}\nspec: "+spec+"\nstatus: "+status+"\n")
	}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"none yet", deploy("{replicas: 4}", "{observedGeneration: 2}"), "0/4 replicas available"},
		{"some", deploy("{replicas: 4}", "{observedGeneration: 2, replicas: 4, updatedReplicas: 4, readyReplicas: 2, availableReplicas: 2}"), "2/4 replicas available"},
		{"default of one", deploy("{}", "{observedGeneration: 2}"), "0/1 replicas available"},
		{"all available, rollout not observed", deploy("{replicas: 2}", "{observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}"),
			"Deployment generation is 2, but latest observed generation is 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := status.Compute(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status == status.CurrentStatus {
				t.Fatalf("kstatus says %s is Current; the case is meant to wait", tt.name)
			}
			if got := WaitingFor(tt.obj, res); got != tt.want {
				t.Errorf("WaitingFor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReplicas(t *testing.T) {
	tests := []struct {
		name            string
		obj             string
		want, available int64
		ok              bool
	}{
		{"Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\nstatus: {availableReplicas: 2}\n", 3, 2, true},
		{"unset replicas default to one", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {}\n", 1, 0, true},
		{"StatefulSet", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {replicas: 0}\n", 0, 0, true},
		{"a Job has no replicas", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {parallelism: 2}\n", 0, 0, false},
		{"nor a ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, available, ok := Replicas(parse(t, tt.obj))
			if want != tt.want || available != tt.available || ok != tt.ok {
				t.Errorf("Replicas = %d, %d, %t; want %d, %d, %t", want, available, ok, tt.want, tt.available, tt.ok)
			}
		})
	}
}

func pod(t *testing.T, namespace, labels, status string) map[string]any {
	t.Helper()
	return parse(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: "+namespace+", labels: "+labels+"}\nstatus: "+status+"\n").Object
}

// PodsOf picks the pods ListPods would list: the workload's namespace, its
// selector (matchLabels and matchExpressions).
func TestPodsOf(t *testing.T) {
	pods := []map[string]any{
		pod(t, "serving", "{app: api, tier: web}", "{phase: Running}"),
		pod(t, "serving", "{app: api, tier: batch}", "{phase: Running}"),
		pod(t, "serving", "{app: other}", "{phase: Running}"),
		pod(t, "ml", "{app: api, tier: web}", "{phase: Running}"),
	}
	tests := []struct {
		name     string
		workload string
		want     []int
	}{
		{"matchLabels, own namespace only", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: serving}\nspec: {selector: {matchLabels: {app: api}}}\n", []int{0, 1}},
		{"matchExpressions", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: serving}\n" +
			"spec: {selector: {matchLabels: {app: api}, matchExpressions: [{key: tier, operator: NotIn, values: [batch]}]}}\n", []int{0}},
		{"no selector: none", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: serving}\nspec: {}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PodsOf(parse(t, tt.workload), pods)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("PodsOf picked %d pods, want %d", len(got), len(tt.want))
			}
			for i, j := range tt.want {
				if !sameMap(got[i], pods[j]) {
					t.Errorf("pod %d picked is not pod %d", i, j)
				}
			}
		})
	}
	if _, err := PodsOf(parse(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: serving}\n"+
		"spec: {selector: {matchExpressions: [{key: tier, operator: Sideways}]}}\n"), pods); err == nil {
		t.Error("PodsOf with an invalid selector: no error")
	}
}

func sameMap(a, b map[string]any) bool {
	ja, _ := yaml.Marshal(a)
	jb, _ := yaml.Marshal(b)
	return string(ja) == string(jb)
}

func TestReadyPods(t *testing.T) {
	ready := "{phase: Running, conditions: [{type: Ready, status: 'True'}]}"
	pods := []map[string]any{
		pod(t, "ml", "{}", ready),
		pod(t, "ml", "{}", "{phase: Running, conditions: [{type: Ready, status: 'False'}]}"),
		pod(t, "ml", "{}", "{phase: Pending}"),
		pod(t, "ml", "{}", "{phase: Succeeded, conditions: [{type: Ready, status: 'True'}]}"),
	}
	terminating := pod(t, "ml", "{}", ready)
	terminating["metadata"].(map[string]any)["deletionTimestamp"] = "2026-01-01T00:00:00Z"
	pods = append(pods, terminating)
	if got := ReadyPods(pods); got != 1 {
		t.Errorf("ReadyPods = %d, want 1: running, ready and not being deleted", got)
	}
}

func TestWithPods(t *testing.T) {
	const noGPU = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
	pending := "{phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable, message: '" + noGPU + "'}]}"
	running := "{phase: Running, conditions: [{type: PodScheduled, status: 'True'}, {type: Ready, status: 'True'}]}"
	tests := []struct {
		name string
		pods []map[string]any
		want string
	}{
		{"none pending", []map[string]any{pod(t, "s", "{}", running)}, "2/3 replicas available"},
		{"one pending", []map[string]any{pod(t, "s", "{}", running), pod(t, "s", "{}", pending)}, "2/3 replicas available; 1 pod Pending: " + noGPU},
		{"no pods", nil, "2/3 replicas available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WithPods("2/3 replicas available", tt.pods); got != tt.want {
				t.Errorf("WithPods = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRunsPods(t *testing.T) {
	for _, tt := range []struct {
		apiVersion, kind string
		want             bool
	}{
		{"apps/v1", "Deployment", true}, {"apps/v1", "StatefulSet", true}, {"apps/v1", "ReplicaSet", true}, {"batch/v1", "Job", true},
		{"apps/v1", "DaemonSet", false}, {"v1", "ConfigMap", false}, {"example.com/v1", "Deployment", false},
	} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(tt.apiVersion)
		obj.SetKind(tt.kind)
		if got := RunsPods(obj); got != tt.want {
			t.Errorf("RunsPods(%s %s) = %t, want %t", tt.apiVersion, tt.kind, got, tt.want)
		}
	}
}

// parse reads a YAML manifest as the API machinery does: whole numbers are
// int64.
func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return obj
}
