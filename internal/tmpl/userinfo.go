package tmpl

import (
	"regexp"
	"strings"
	"text/template/parse"
)

// Where a secret lands inside a URL's user info: after "scheme://" with no "@" or "/"
// since, and before an "@" with no "/" or space in between.
var (
	inAuthority   = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s]*$`)
	beforeAtSign  = regexp.MustCompile(`^[^/\s]*@`)
	encodingFuncs = []string{"urlencode", "urlquery"}
)

// UnencodedUserinfo returns the references whose value the template puts into a URL's user
// info (postgresql://user:{{ secret "db" }}@host) without urlencode: a password holding
// "@", "/" or ":" would then change the host the URL names. It is a warning, not an
// error: a value known to be safe needs no encoding.
func (t *Template) UnencodedUserinfo() []string {
	var out []string
	for _, tt := range t.t.Templates() {
		if tt.Tree == nil {
			continue
		}
		// The top-level text with every action as one placeholder byte.
		nodes := tt.Tree.Root.Nodes
		var full strings.Builder
		pos := make([]int, len(nodes))
		for i, n := range nodes {
			pos[i] = full.Len()
			if tn, ok := n.(*parse.TextNode); ok {
				full.Write(tn.Text)
			} else {
				full.WriteByte('\x01')
			}
		}
		text := full.String()
		for i, n := range nodes {
			a, ok := n.(*parse.ActionNode)
			if !ok {
				continue
			}
			ref, encoded := secretIn(a.Pipe)
			if ref == "" || encoded {
				continue
			}
			if inAuthority.MatchString(text[:pos[i]]) && beforeAtSign.MatchString(text[pos[i]+1:]) {
				out = append(out, ref)
			}
		}
	}
	return out
}

// secretIn returns the reference a pipe reads and whether the pipe URL-encodes it.
func secretIn(p *parse.PipeNode) (ref string, encoded bool) {
	walk(p, func(c *parse.CommandNode) {
		id, ok := c.Args[0].(*parse.IdentifierNode)
		if !ok {
			return
		}
		if id.Ident == "secret" {
			if s, ok := arg1(c); ok {
				ref = s
			}
		}
		for _, f := range encodingFuncs {
			if id.Ident == f {
				encoded = true
			}
		}
	})
	return ref, encoded
}
