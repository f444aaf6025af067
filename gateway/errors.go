package gateway

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer has the one table that turns them into statuses.
const (
	EMALFORMED     = "malformed" // not parseable at all (bad JSON, bad ER7)
	EINVALID       = "invalid"   // parsed, but breaks a rule; Problems say where
	ECONFLICT      = "conflict"  // clashes with what is stored
	ENOTFOUND      = "not_found" // no such thing, or not yours to see
	EUNAUTHORIZED  = "unauthorized"
	EFORBIDDEN     = "forbidden"
	ETOOLARGE      = "too_large"
	EUNSUPPORTED   = "unsupported" // wrong content type
	EMETHOD        = "method_not_allowed"
	ENOTACCEPTABLE = "not_acceptable" // asked for a format the server does not speak
	EUNAVAILABLE   = "unavailable"    // cannot take it now; retry later
	EINTERNAL      = "internal"
)

// Problem is one thing wrong with an input, located by a path into it
// (a JSON path such as "variants[0].hgvs.c", or an HL7 v2 location).
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is the gateway's application error. Message is safe to show the caller;
// it never carries patient data.
type Error struct {
	Code     string
	Message  string
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) > 0 {
		return fmt.Sprintf("%s: %s (%d problems)", e.Code, e.Message, len(e.Problems))
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, or EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
