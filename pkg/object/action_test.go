package object

import "testing"

// TestActionPredicates pins the one classification every consumer uses:
// each action in exactly the groups below, so a new action or a moved one
// shows here first.
func TestActionPredicates(t *testing.T) {
	type groups struct{ create, change, prune, write, inSync, attention, problem bool }
	tests := []struct {
		a    Action
		want groups
	}{
		{ActionCreate, groups{create: true, write: true}},
		{ActionUpdate, groups{change: true, write: true}},
		{ActionConflict, groups{change: true, write: true}},
		{ActionReplace, groups{write: true}},
		{ActionDelete, groups{prune: true, write: true}},
		{ActionNoop, groups{inSync: true}},
		{ActionKeep, groups{inSync: true, attention: true, problem: true}},
		{ActionAttention, groups{attention: true, problem: true}},
		{ActionBeingDeleted, groups{attention: true, problem: true}},
		{ActionForeign, groups{attention: true, problem: true}},
		{ActionError, groups{problem: true}},
	}
	for _, tc := range tests {
		got := groups{
			create: tc.a.IsCreate(), change: tc.a.IsChange(), prune: tc.a.IsPrune(), write: tc.a.IsWrite(),
			inSync: tc.a.InSync(), attention: tc.a.NeedsAttention(), problem: tc.a.IsProblem(),
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.a, got, tc.want)
		}
	}
}
