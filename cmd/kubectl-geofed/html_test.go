package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// checkHTMLPage checks that out is one whole page of kind, with a card
// for clusters a and b of writeCapacityTopology saying they are
// unreachable, and nothing else written around it.
func checkHTMLPage(t *testing.T, out, kind string) {
	t.Helper()
	if !strings.HasPrefix(out, "<!DOCTYPE html>\n") || !strings.HasSuffix(out, "</html>\n") || strings.Count(out, "<html") != 1 {
		t.Errorf("-o html did not write exactly one page:\n%.300s\n…\n%s", out, out[max(0, len(out)-300):])
	}
	if !strings.Contains(out, `data-page="`+kind+`" data-topology="whatif"`) {
		t.Errorf("the page is not the %s of topology whatif", kind)
	}
	for _, c := range []string{"a", "b"} {
		if !strings.Contains(out, `data-cluster="`+c+`"`) || !strings.Contains(out, `data-map-cluster="`+c+`"`) {
			t.Errorf("cluster %s has no card or is not on the map", c)
		}
	}
	if n := strings.Count(out, `data-health="unreachable"`); n != 2 {
		t.Errorf("%d clusters shown unreachable, want 2", n)
	}
	// html/template escapes the quotes of the reason.
	if !strings.Contains(out, `kubeconfig context &#34;b&#34; not found`) {
		t.Error("the page does not say why cluster b is unreachable")
	}
}

// plan -o html writes the page of what it could find out, saves the plan
// as any other format does, and exits 1 for the unreachable clusters.
// Runs offline: the clusters' kubeconfig contexts exist nowhere.
func TestPlanRunHTML(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &PlanOptions{
		Filename: file, printFlags: printFlags{Output: "html"}, DetailedExitCode: true,
		fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: time.Second, RequestTimeout: time.Minute},
		IOStreams:  streams,
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err := o.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("Run() = %v, want an ExitError with code 1", err)
	}
	checkHTMLPage(t, out.String(), "plan")
}

func TestStatusRunHTML(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &StatusOptions{
		Filename: file, printFlags: printFlags{Output: "html"},
		fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: time.Second, RequestTimeout: time.Minute},
		IOStreams:  streams,
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err := o.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("Run() = %v, want an ExitError with code 1", err)
	}
	checkHTMLPage(t, out.String(), "status")
}
