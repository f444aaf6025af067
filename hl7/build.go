package hl7

import "strings"

// Builder writes a message segment by segment, escaping every value.
type Builder struct {
	d    Delimiters
	segs []string
}

// NewBuilder starts a message with the default delimiters.
func NewBuilder() *Builder { return &Builder{d: DefaultDelimiters} }

// MSH adds the MSH segment; fields start at MSH-3 and are already built
// with C/R (or are plain values passed through V).
func (b *Builder) MSH(fields ...string) {
	b.segs = append(b.segs, "MSH"+string(b.d.Field)+b.d.encodingCharacters()+string(b.d.Field)+strings.Join(fields, string(b.d.Field)))
}

// Add adds a segment; fields start at field 1 and are built with V, C, R.
func (b *Builder) Add(name string, fields ...string) {
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1] // no trailing empty fields
	}
	b.segs = append(b.segs, name+string(b.d.Field)+strings.Join(fields, string(b.d.Field)))
}

// V escapes one plain value.
func (b *Builder) V(s string) string { return b.d.EscapeText(s) }

// C builds a field (or repetition) from components, escaping each.
func (b *Builder) C(components ...string) string {
	for i := range components {
		components[i] = b.d.EscapeText(components[i])
	}
	return strings.TrimRight(strings.Join(components, string(b.d.Component)), string(b.d.Component))
}

// S builds a component from subcomponents, escaping each; pass it to C via Raw.
func (b *Builder) S(subs ...string) string {
	for i := range subs {
		subs[i] = b.d.EscapeText(subs[i])
	}
	return strings.TrimRight(strings.Join(subs, string(b.d.Subcomponent)), string(b.d.Subcomponent))
}

// CRaw builds a field from components that are already escaped (e.g. from S).
func (b *Builder) CRaw(components ...string) string {
	return strings.TrimRight(strings.Join(components, string(b.d.Component)), string(b.d.Component))
}

// R joins built repetitions.
func (b *Builder) R(reps ...string) string { return strings.Join(reps, string(b.d.Repetition)) }

// Bytes returns the message, segments ended with CR as the standard says.
func (b *Builder) Bytes() []byte { return []byte(strings.Join(b.segs, "\r") + "\r") }

// Recode rewrites raw (a field as written with d) for delimiters to: each
// separator and the escape character take their counterparts in to, and a
// character that is a delimiter in to but plain text in d is escaped. So a
// sender's component written with '!' stays a component in an ACK that
// uses '^'.
func (d Delimiters) Recode(raw string, to Delimiters) string {
	if d == to {
		return raw
	}
	roles := map[byte]byte{d.Component: to.Component, d.Repetition: to.Repetition, d.Subcomponent: to.Subcomponent, d.Escape: to.Escape}
	escapes := map[byte]string{to.Field: "F", to.Component: "S", to.Repetition: "R", to.Subcomponent: "T", to.Escape: "E"}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if r, ok := roles[c]; ok {
			b.WriteByte(r)
		} else if e, ok := escapes[c]; ok {
			b.WriteString(string(to.Escape) + e + string(to.Escape))
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
