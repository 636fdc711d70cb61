package object

// Action is what apply would do to an object, a GKE cluster or a node pool.
// One vocabulary for all three, so plans, views and apply agree on it.
type Action string

const (
	// ActionCreate: it does not exist and will be created.
	ActionCreate Action = "create"
	// ActionUpdate: changed in place.
	ActionUpdate Action = "update"
	// ActionReplace: a node pool deleted and created again, because GKE
	// cannot change its machine type, accelerators or spot setting in place.
	ActionReplace Action = "replace"
	// ActionDelete: pruned (an object) or deleted (a node pool).
	ActionDelete Action = "delete"
	// ActionNoop: live matches the topology.
	ActionNoop Action = "noop"
	// ActionAttention: geofed will not touch it; a person has to look.
	ActionAttention Action = "attention"
	// ActionConflict: an update that takes fields another manager owns;
	// apply refuses it without --force-conflicts.
	ActionConflict Action = "conflict"
	// ActionError: the server rejected the dry-run (invalid, forbidden).
	ActionError Action = "error"
	// ActionKeep: a Namespace or CRD geofed applied and no longer renders,
	// kept because deleting it would take objects geofed did not apply; it
	// stays in the inventory and is pruned once nothing else is lost.
	ActionKeep Action = "keep"
	// ActionBeingDeleted: the live object has a deletionTimestamp; it is
	// neither unchanged nor to be deleted, and apply leaves it alone.
	ActionBeingDeleted Action = "being-deleted"
	// ActionForeign: the live object belongs to another topology or
	// ApplySet; apply takes it only with --adopt.
	ActionForeign Action = "foreign"
)

// Symbol is the terraform-style mark of the action.
func (a Action) Symbol() string {
	switch a {
	case ActionCreate:
		return "+"
	case ActionUpdate, ActionConflict:
		return "~"
	case ActionReplace:
		return "-/+"
	case ActionDelete:
		return "-"
	case ActionAttention, ActionError, ActionKeep, ActionBeingDeleted, ActionForeign:
		return "!"
	}
	return ""
}

// The predicates below are the one classification of actions: plans count
// with them, apply decides what to send with them, views and the
// controller's metrics group with them. A new action is classified here
// once, not in every switch.

// NeedsAttention reports whether the action is one a person has to look at
// and geofed leaves alone: attention, keep, being-deleted, foreign.
func (a Action) NeedsAttention() bool { return a.Symbol() == "!" && a != ActionError }

// IsProblem reports whether the action stops geofed short of the topology:
// one that needs attention, or one the server rejected.
func (a Action) IsProblem() bool { return a.NeedsAttention() || a == ActionError }

// IsCreate reports whether apply creates the object, cluster or pool.
func (a Action) IsCreate() bool { return a == ActionCreate }

// IsChange reports whether apply changes it in place: an update, or a
// conflict (an update that takes fields another manager owns).
func (a Action) IsChange() bool { return a == ActionUpdate || a == ActionConflict }

// IsPrune reports whether apply deletes it (an object pruned, a pool or a
// GKE cluster deleted).
func (a Action) IsPrune() bool { return a == ActionDelete }

// IsWrite reports whether apply writes to the cluster for it: create,
// change (conflicts included), replace or delete.
func (a Action) IsWrite() bool {
	return a.IsCreate() || a.IsChange() || a.IsPrune() || a == ActionReplace
}

// InSync reports whether live already is what geofed wants: unchanged, or a
// Namespace or CRD kept on purpose.
func (a Action) InSync() bool { return a == ActionNoop || a == ActionKeep }
