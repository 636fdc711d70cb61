package v1alpha1

// The deep copies (zz_generated.deepcopy.go) and the CRD
// (manifests/controller/crd) are generated from these types:
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=./...
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 crd:maxDescLen=400 paths=./... output:crd:dir=../../../../manifests/controller/crd
