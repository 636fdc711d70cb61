package topology

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// JoinedCluster is an existing cluster to add to a topology file, reached
// through a kubeconfig context (what `kubectl geofed join` adds).
type JoinedCluster struct {
	Region  string
	Name    string
	Labels  map[string]string
	Context string
}

// Edit is a topology file after an edit.
type Edit struct {
	// Data is the whole new file.
	Data []byte
	// Topology is Data loaded: validated and defaulted.
	Topology *Topology
	// NewRegion says the cluster's region was added to spec.regions.
	NewRegion bool
}

// DuplicateNameError is AddJoinedCluster's refusal of a name the file
// already has.
type DuplicateNameError struct {
	Name string
	// Place is file:line of the cluster that has the name.
	Place string
}

func (e *DuplicateNameError) Error() string {
	return fmt.Sprintf("cluster %q is already in the topology (%s)", e.Name, e.Place)
}

// AddJoinedCluster adds c to the topology file data (read from path) under
// its region, adding the region to spec.regions when the file has none of
// that name. Everything outside the added lines stays as it was, byte for
// byte — comments, key order, quoting, blank lines — because the new lines
// are spliced into the text rather than the document re-encoded (which
// would normalise indentation and drop blank lines). The lines follow the
// file's own indentation and sequence style.
//
// It refuses an invalid file, an unknown region (with a suggestion), a name
// or context the file already has (naming the line of the existing
// cluster), and parts of the file it cannot extend without rewriting them:
// flow-style lists (other than an empty []), anchors and aliases. The result
// is validated as Load validates, so a returned Edit is a valid topology.
func (o Options) AddJoinedCluster(path string, data []byte, c JoinedCluster) (*Edit, error) {
	t, err := o.Parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("%s must be a valid topology before a cluster is joined to it:\n%w", path, err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	// The context first: joining a cluster twice is the mistake to name,
	// even when its name clashes too.
	for _, ref := range t.Clusters() {
		// Same context name, same kubeconfig resolution: the same cluster
		// (the new entry has no path, so it resolves the default way).
		if k := ref.Cluster.Kubeconfig; k != nil && k.Context == c.Context && t.kubeconfigFile(k) == "" {
			return nil, fmt.Errorf("context %q is already joined as cluster %s (%s)", c.Context, ref.Cluster.Name, t.ClusterPlace(ref.Cluster.Name))
		}
	}
	if _, dup := t.Cluster(c.Name); dup {
		return nil, &DuplicateNameError{Name: c.Name, Place: t.ClusterPlace(c.Name)}
	}

	s, err := newSource(path, data)
	if err != nil {
		return nil, err
	}
	newRegion, err := s.addCluster(c)
	if err != nil {
		return nil, err
	}
	out := s.apply()
	nt, err := o.Parse(path, out)
	if err != nil {
		return nil, fmt.Errorf("adding cluster %s would make %s invalid:\n%w", c.Name, path, err)
	}
	return &Edit{Data: out, Topology: nt, NewRegion: newRegion}, nil
}

// check validates the cluster by itself, before it is placed in the file,
// so its errors name what was given rather than a line that does not
// exist yet.
func (c JoinedCluster) check() error {
	if c.Region == "" {
		return errors.New("a region is required")
	}
	if _, ok := catalog.LookupRegion(c.Region); !ok {
		return fmt.Errorf("unknown region %q%s", c.Region, didYouMean(catalog.Suggest(c.Region, catalog.RegionNames())))
	}
	if c.Context == "" {
		return errors.New("a kubeconfig context is required")
	}
	if c.Name == "" {
		return errors.New("a cluster name is required")
	}
	if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s", c.Name, strings.Join(msgs, "; "))
	}
	v := &validator{errs: &problems{}}
	v.labels(field.NewPath("labels"), c.Labels)
	if errs := v.errs.list; len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Path + ": " + e.Msg
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

// ClusterNameFromContext makes a kubeconfig context name into a cluster
// name, a DNS-1123 label: lower case, every run of other characters a
// single '-', none at either end ("gke_acme_us-east1_serving" becomes
// "gke-acme-us-east1-serving"). It fails when nothing is left, or more than
// a label's 63 characters: a shortened name could collide with another.
func ClusterNameFromContext(context string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToLower(context) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	switch {
	case name == "":
		return "", fmt.Errorf("context %q has no letters or digits to name a cluster after", context)
	case len(name) > validation.DNS1123LabelMaxLength:
		return "", fmt.Errorf("context %q makes a cluster name of %d characters, more than the %d of a DNS-1123 label", context, len(name), validation.DNS1123LabelMaxLength)
	}
	return name, nil
}

// WriteFile replaces the file at path with data atomically (a temporary
// file in the same directory, renamed over it), keeping its permissions. A
// symlink is followed, so the file it points at is replaced, not the link.
func WriteFile(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// source is a topology file's text with its parsed node tree (positions
// included) and the lines to insert into it.
type source struct {
	path  string
	data  []byte
	lines []span // 1-based line n is lines[n-1]
	eol   string
	root  *kyaml.RNode

	// cut is a byte range of one line to remove (the value of `key: []`
	// or `key: ~`, which the new block list replaces); cutFrom == cutTo
	// when none.
	cutFrom, cutTo int
	// after is the line the new lines go after, 0 for none yet.
	after int
	add   []string
}

// span is one line: data[start:end] is its text without the line break,
// next is where the following line starts.
type span struct{ start, end, next int }

func newSource(path string, data []byte) (*source, error) {
	root, err := kyaml.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	s := &source{path: path, data: data, root: root, eol: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		s.eol = "\r\n"
	}
	for start := 0; start < len(data); {
		end := bytes.IndexByte(data[start:], '\n')
		next := start + end + 1
		if end < 0 {
			end, next = len(data)-start, len(data)
		}
		stop := start + end
		if stop > start && data[stop-1] == '\r' {
			stop--
		}
		s.lines = append(s.lines, span{start: start, end: stop, next: next})
		start = next
	}
	return s, nil
}

func (s *source) text(line int) string {
	l := s.lines[line-1]
	return string(s.data[l.start:l.end])
}

// place is file:line of a node, for errors.
func (s *source) place(n *kyaml.Node) string { return place(s.path, n.Line) }

// format is how the file lays out what the new lines must match.
type format struct {
	// indent is the step of a nested mapping.
	indent int
	// seqOffset is how far a block list's dashes sit right of its key: 0
	// ("compact", as kubectl writes) or more.
	seqOffset int
	// itemOffset is how far an item's content sits right of its dash.
	itemOffset int
	// flowLabels and flowKubeconfig copy the style of the file's last
	// cluster: `labels: {role: serving}` or a block.
	flowLabels, flowKubeconfig bool
}

// addCluster plans the insertion of c: into its region's clusters, or as a
// new region at the end of spec.regions. It reports whether the region is
// new.
func (s *source) addCluster(c JoinedCluster) (bool, error) {
	spec := s.root.Field("spec")
	if spec == nil {
		return false, fmt.Errorf("%s: the topology has no spec", s.path)
	}
	if err := s.editable(spec.Value.YNode(), "spec"); err != nil {
		return false, err
	}
	f := s.format(spec)
	cluster := clusterNode(c, f)

	regions := spec.Value.Field("regions")
	if regions != nil {
		if err := s.editable(regions.Value.YNode(), "spec.regions"); err != nil {
			return false, err
		}
		for i, r := range regions.Value.YNode().Content {
			rn := kyaml.NewRNode(r)
			if name := rn.Field("name"); name == nil || name.Value.YNode().Value != c.Region {
				continue
			}
			path := fmt.Sprintf("spec.regions[%d]", i)
			if err := s.editable(r, path); err != nil {
				return false, err
			}
			return false, s.appendItem(r, "clusters", path+".clusters", f, f.item(cluster))
		}
	}
	region := f.item(mapping(scalarPair("name", c.Region)...))
	region = append(region, strings.Repeat(" ", f.itemOffset)+"clusters:")
	for _, l := range f.item(cluster) {
		region = append(region, strings.Repeat(" ", f.itemOffset+f.seqOffset)+l)
	}
	return true, s.appendItem(spec.Value.YNode(), "regions", "spec.regions", f, region)
}

// editable refuses what cannot take new lines without rewriting it.
func (s *source) editable(n *kyaml.Node, path string) error {
	switch {
	case n.Kind == kyaml.AliasNode || n.Anchor != "":
		return fmt.Errorf("%s: %s is a YAML anchor or alias: join would change every place it is used; add the cluster by hand", s.place(n), path)
	case n.Kind == kyaml.MappingNode && n.Style&kyaml.FlowStyle != 0:
		return fmt.Errorf("%s: %s is written in flow style ({...}); join adds to block style only: write it as a block, or add the cluster by hand", s.place(n), path)
	case n.Kind == kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "<<" {
				return fmt.Errorf("%s: %s takes keys from a YAML merge key (<<): join cannot tell what it holds; add the cluster by hand", s.place(n.Content[i]), path)
			}
		}
	}
	return nil
}

// appendItem plans item (lines at column 0, an item's dash first) as the
// last element of the block list under key of mapping m, creating the key
// when m has none.
func (s *source) appendItem(m *kyaml.Node, key, path string, f format, item []string) error {
	keyCol := m.Column - 1
	var k, v *kyaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			k, v = m.Content[i], m.Content[i+1]
		}
	}
	switch {
	case k == nil:
		// A new key after the mapping's last value.
		last := m.Content[len(m.Content)-2]
		s.insert(s.valueEnd(last.Line, keyCol), keyCol, append([]string{key + ":"}, indent(item, f.seqOffset)...))
	case v.Kind == kyaml.SequenceNode && v.Style&kyaml.FlowStyle == 0 && len(v.Content) > 0:
		if err := s.editable(v, path); err != nil {
			return err
		}
		dash := v.Column - 1
		s.insert(s.itemEnd(v.Content[len(v.Content)-1].Line, dash), dash, item)
	case v.Kind == kyaml.SequenceNode && v.Style&kyaml.FlowStyle != 0 && len(v.Content) == 0,
		v.Kind == kyaml.ScalarNode && v.Tag == "!!null":
		// `key: []`, `key: ~` or a bare `key:`: the value (if written) goes,
		// the block list comes on the lines after.
		if err := s.editable(v, path); err != nil {
			return err
		}
		if v.Line == k.Line && v.Value != "" || v.Kind == kyaml.SequenceNode {
			if err := s.cutValue(k, v); err != nil {
				return err
			}
		}
		s.insert(s.valueEnd(k.Line, keyCol), keyCol+f.seqOffset, item)
	case v.Kind == kyaml.SequenceNode && v.Style&kyaml.FlowStyle != 0:
		return fmt.Errorf("%s: %s is written in flow style ([...]); join adds to block lists only: write it as a block list, or add the cluster by hand", s.place(v), path)
	default:
		return fmt.Errorf("%s: %s is not a list", s.place(v), path)
	}
	return nil
}

// cutValue plans removing v, a one-line `[]` or null written after k, with
// the blanks before it, leaving `key:` and any comment after.
func (s *source) cutValue(k, v *kyaml.Node) error {
	l := s.lines[v.Line-1]
	from := l.start + v.Column - 1
	to := from + len(v.Value)
	if v.Kind == kyaml.SequenceNode {
		end := bytes.IndexByte(s.data[from:l.end], ']')
		if end < 0 || v.Line != k.Line {
			return fmt.Errorf("%s: cannot find the end of the empty list", s.place(v))
		}
		to = from + end + 1
	}
	for from > l.start && (s.data[from-1] == ' ' || s.data[from-1] == '\t') {
		from--
	}
	s.cutFrom, s.cutTo = from, to
	return nil
}

// insert plans lines (relative to col) after line.
func (s *source) insert(line, col int, lines []string) {
	s.after = line
	s.add = indent(lines, col)
}

// apply returns the file with the planned changes.
func (s *source) apply() []byte {
	var b bytes.Buffer
	b.Grow(len(s.data) + 256)
	at := s.lines[s.after-1].next
	b.Write(s.data[:s.cutFrom])
	b.Write(s.data[s.cutTo:at])
	added := strings.Join(s.add, s.eol)
	if at == len(s.data) && !bytes.HasSuffix(s.data, []byte("\n")) {
		// The last line has no line break: it gets one before the new
		// lines, and the file still ends without one.
		b.WriteString(s.eol + added)
	} else {
		b.WriteString(added + s.eol)
	}
	b.Write(s.data[at:])
	return b.Bytes()
}

// itemEnd is the last line of the list item that starts on line start,
// with its dash at column dash (0-based): the lines indented deeper.
func (s *source) itemEnd(start, dash int) int {
	return s.blockEnd(start, dash, func(indent int, _ string) bool { return indent > dash })
}

// valueEnd is the last line of the value of the mapping key on line start
// at column key: the lines indented deeper, and the items of a compact list
// whose dashes sit at the key's column.
func (s *source) valueEnd(start, key int) int {
	return s.blockEnd(start, key, func(indent int, text string) bool {
		return indent > key || indent == key && (text == "-" || strings.HasPrefix(text, "- "))
	})
}

// blockEnd finds the last line of the block starting on line start: lines
// for which belongs holds, and comments indented deeper than col after
// them. A comment at col or left of it belongs to what follows it (the next
// item's head comment), so it ends the block unless block lines follow.
func (s *source) blockEnd(start, col int, belongs func(indent int, text string) bool) int {
	end, shallow := start, false
	for l := start + 1; l <= len(s.lines); l++ {
		line := s.text(l)
		text := strings.TrimLeft(line, " ")
		indent := len(line) - len(text)
		switch {
		case strings.TrimSpace(text) == "":
		case strings.HasPrefix(text, "#"):
			if indent <= col {
				shallow = true
			} else if !shallow {
				end = l
			}
		case belongs(indent, text):
			end, shallow = l, false
		default:
			return end
		}
	}
	return end
}

// format reads the file's layout, defaulting to kubectl's (two spaces,
// compact lists).
func (s *source) format(spec *kyaml.MapNode) format {
	f := format{indent: 2, itemOffset: 2}
	if v := spec.Value.YNode(); v.Kind == kyaml.MappingNode && v.Line > spec.Key.YNode().Line {
		f.indent = v.Column - spec.Key.YNode().Column
	}
	// The layout of the lists and the last cluster, where the file has them.
	regions := spec.Value.Field("regions")
	if regions == nil {
		return f
	}
	if seq := regions.Value.YNode(); seq.Kind == kyaml.SequenceNode && seq.Style&kyaml.FlowStyle == 0 && len(seq.Content) > 0 {
		f.seqOffset = max(0, seq.Column-regions.Key.YNode().Column)
		if first := seq.Content[0]; first.Line == seq.Line {
			f.itemOffset = first.Column - seq.Column
		}
	}
	for _, r := range regions.Value.YNode().Content {
		clusters := kyaml.NewRNode(r).Field("clusters")
		if clusters == nil || clusters.Value.YNode().Kind != kyaml.SequenceNode {
			continue
		}
		for _, c := range clusters.Value.YNode().Content {
			cn := kyaml.NewRNode(c)
			if l := cn.Field("labels"); l != nil {
				f.flowLabels = l.Value.YNode().Style&kyaml.FlowStyle != 0
			}
			if k := cn.Field("kubeconfig"); k != nil {
				f.flowKubeconfig = k.Value.YNode().Style&kyaml.FlowStyle != 0
			}
		}
	}
	return f
}

// item renders a mapping as a list item at column 0: the dash, then the
// content at itemOffset.
func (f format) item(m *kyaml.Node) []string {
	lines := f.encode(m)
	pad := strings.Repeat(" ", f.itemOffset)
	for i := range lines {
		if i == 0 {
			lines[i] = "-" + pad[1:] + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return lines
}

// encode renders a node with the file's indentation, through the YAML
// encoder, so values that need quotes get them.
func (f format) encode(n *kyaml.Node) []string {
	var b bytes.Buffer
	enc := kyaml.NewEncoder(&b)
	enc.SetIndent(f.indent)
	// Encoding a node tree built here cannot fail.
	_ = enc.Encode(n)
	_ = enc.Close()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// clusterNode is the new cluster's entry: name, labels (sorted), and its
// kubeconfig context.
func clusterNode(c JoinedCluster, f format) *kyaml.Node {
	m := mapping(scalarPair("name", c.Name)...)
	if len(c.Labels) > 0 {
		var pairs []*kyaml.Node
		for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
			pairs = append(pairs, scalarPair(k, c.Labels[k])...)
		}
		labels := mapping(pairs...)
		if f.flowLabels {
			labels.Style = kyaml.FlowStyle
		}
		m.Content = append(m.Content, scalar("labels"), labels)
	}
	kc := mapping(scalarPair("context", c.Context)...)
	if f.flowKubeconfig {
		kc.Style = kyaml.FlowStyle
	}
	m.Content = append(m.Content, scalar("kubeconfig"), kc)
	return m
}

func mapping(content ...*kyaml.Node) *kyaml.Node {
	return &kyaml.Node{Kind: kyaml.MappingNode, Content: content}
}

// scalar is a string node. The encoder quotes what YAML 1.2 would read as
// another type; words YAML 1.1 reads as booleans are quoted here, since
// kubectl and many other tools read YAML 1.1.
func scalar(v string) *kyaml.Node {
	n := &kyaml.Node{Kind: kyaml.ScalarNode, Tag: kyaml.NodeTagString, Value: v}
	switch strings.ToLower(v) {
	case "y", "yes", "n", "no", "on", "off":
		n.Style = kyaml.DoubleQuotedStyle
	}
	return n
}

func scalarPair(k, v string) []*kyaml.Node { return []*kyaml.Node{scalar(k), scalar(v)} }

// indent shifts lines right by n columns.
func indent(lines []string, n int) []string {
	pad := strings.Repeat(" ", n)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = pad + l
	}
	return out
}
