package controller

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestWatchesDirty: what a reconcile takes is what the events that fired
// before it touched — a drift marks its member, anything else the fleet —
// and each reason keeps its own delay, so a hand edit is not held behind a
// pending capacity change.
func TestWatchesDirty(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	topo := types.NamespacedName{Namespace: "geofed-system", Name: "web"}
	fired := func(w *Watches, within time.Duration) bool {
		select {
		case <-w.events:
			return true
		case <-time.After(within):
			return false
		}
	}
	for _, tc := range []struct {
		name    string
		events  []struct{ cluster, reason string }
		members []string
		fleet   bool
	}{
		{"one edit", []struct{ cluster, reason string }{{"m1", TriggerDrift}}, []string{"m1"}, false},
		{"edits on two members", []struct{ cluster, reason string }{{"m1", TriggerDrift}, {"m2", TriggerDrift}}, []string{"m1", "m2"}, false},
		{"capacity", []struct{ cluster, reason string }{{"m1", TriggerCapacity}}, nil, true},
		{"health", []struct{ cluster, reason string }{{"", TriggerHealth}}, nil, true},
		{"an edit and a health change", []struct{ cluster, reason string }{{"m1", TriggerDrift}, {"", TriggerHealth}}, []string{"m1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatches()
			w.ctx = ctx
			for _, e := range tc.events {
				w.trigger(topo, e.cluster, e.reason, 0)
			}
			for range tc.events {
				fired(w, time.Second)
			}
			d := w.Take(topo)
			if got := slices.Sorted(maps.Keys(d.Members)); !slices.Equal(got, tc.members) || d.Fleet != tc.fleet {
				t.Errorf("took members %v fleet %v, want %v fleet %v", got, d.Fleet, tc.members, tc.fleet)
			}
			if again := w.Take(topo); len(again.Members) != 0 || again.Fleet {
				t.Errorf("a second Take got %+v, want nothing: the first took it all", again)
			}
		})
	}

	t.Run("an edit is not held behind a pending capacity change", func(t *testing.T) {
		w := NewWatches()
		w.ctx = ctx
		w.trigger(topo, "m1", TriggerCapacity, time.Hour)
		w.trigger(topo, "m2", TriggerDrift, 0)
		if !fired(w, 2*time.Second) {
			t.Fatal("the edit's reconcile did not fire while a capacity change was pending")
		}
		if d := w.Take(topo); !d.Members["m2"] || d.Fleet {
			t.Errorf("took %+v, want m2 only: the capacity change has not fired yet", d)
		}
	})
}
