package plan

import "testing"

func TestTmpReason(t *testing.T) { t.Log(conflictReason(applyConflict("kubectl", "kubectl"))) }
