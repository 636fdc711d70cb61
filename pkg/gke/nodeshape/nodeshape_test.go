package nodeshape

import "testing"

// TestReservations checks the rule at the edges of its tiers, against
// figures worked out by hand (see TestNodeShape); those for 8, 16, 128 and
// 256 GiB are also those of a published table of the same tiers (Nebius'
// kube-reserved page).
func TestReservations(t *testing.T) {
	for _, tt := range []struct {
		vcpus, milli int64
	}{
		{1, 60},
		{2, 70},
		{4, 80},
		{5, 83}, // 82.5, rounded up
		{6, 85},
		{96, 310}, // 80 + 92 × 2.5
	} {
		if got := reservedMilliCPU(tt.vcpus); got != tt.milli {
			t.Errorf("reservedMilliCPU(%d) = %d, want %d", tt.vcpus, got, tt.milli)
		}
	}
	for _, tt := range []struct {
		mib, reserved int64
	}{
		{614, 355},     // f1-micro: under 1 GiB, 255 + 100
		{1 << 10, 356}, // 256 + 100
		{4 << 10, 1124},
		{8 << 10, 1944},    // 1843.2 → 1844 + 100
		{16 << 10, 2763},   // 2662.4 → 2663 + 100
		{128 << 10, 9644},  // 2662.4 + 6881.28 = 9543.68 → 9544 + 100
		{256 << 10, 12266}, // 9543.68 + 2% × 131072 = 12165.12 → 12166 + 100
	} {
		if got := reservedMemoryMiB(tt.mib); got != tt.reserved {
			t.Errorf("reservedMemoryMiB(%d) = %d, want %d", tt.mib, got, tt.reserved)
		}
	}
}
