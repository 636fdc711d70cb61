package bundle

import (
	"bytes"
	"errors"
	"io"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// sensitiveFiles names the files that must travel in Secrets: every YAML
// file with a Secret among its documents, every kustomization with a
// secret generator holding literals, and every file a secret generator
// reads. A file that cannot be parsed is not judged sensitive for that:
// kustomize will say what is wrong with it.
func sensitiveFiles(files map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for name, data := range files {
		base := path.Base(name)
		if isKustomization(base) {
			var k types.Kustomization
			if err := sigsyaml.Unmarshal(data, &k); err != nil {
				continue
			}
			dir := path.Dir(name)
			for _, g := range k.SecretGenerator {
				if len(g.LiteralSources) > 0 {
					out[name] = true
				}
				for _, src := range g.FileSources {
					if _, p, ok := strings.Cut(src, "="); ok {
						src = p
					}
					markUnder(out, files, path.Join(dir, src))
				}
				for _, env := range g.EnvSources {
					markUnder(out, files, path.Join(dir, env))
				}
			}
			continue
		}
		if ext := path.Ext(base); ext == ".yaml" || ext == ".yml" || ext == ".json" {
			if holdsSecret(data) {
				out[name] = true
			}
		}
	}
	return out
}

func isKustomization(base string) bool {
	for _, k := range konfig.RecognizedKustomizationFileNames() {
		if base == k {
			return true
		}
	}
	return false
}

// markUnder marks p, or every file under p when it is a directory.
func markUnder(out map[string]bool, files map[string][]byte, p string) {
	for name := range files {
		if name == p || strings.HasPrefix(name, p+"/") {
			out[name] = true
		}
	}
}

// holdsSecret reports whether any document of a YAML stream is a Secret.
func holdsSecret(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			// Unparseable past this point; what came before was judged.
			// A file that fails to parse whole is kept secret when it
			// says Secret anywhere: better a ConfigMap too few.
			return bytes.Contains(data, []byte("Secret"))
		}
		if doc.Kind == "Secret" {
			return true
		}
	}
}
