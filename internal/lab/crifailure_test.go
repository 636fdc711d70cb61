package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRIFailure: containerd's log says why its CRI plugin did not load,
// and a full inotify table is named with its fix.
func TestCRIFailure(t *testing.T) {
	for _, tc := range []struct {
		name, log, want string
	}{
		{"loaded", `level=info msg="loading plugin \"io.containerd.grpc.v1.cri\"..."` + "\n" + `level=info msg=serving...`, ""},
		{"inotify", `level=warning msg="failed to load plugin io.containerd.grpc.v1.cri" error="failed to create CRI service: failed to create cni conf monitor for default: failed to create fsnotify watcher: too many open files"`,
			"failed to create fsnotify watcher: too many open files (the inotify instances of this user are used up: raise fs.inotify.max_user_instances"},
		{"other", `level=warning msg="failed to load plugin io.containerd.grpc.v1.cri" error="failed to find snapshotter \"overlayfs\""`, `failed to find snapshotter \"overlayfs\`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "containerd.log")
			if err := os.WriteFile(path, []byte(tc.log), 0o644); err != nil {
				t.Fatal(err)
			}
			got := criFailure(path)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("criFailure = %q, want %q", got, tc.want)
			}
		})
	}
}
