package pdf

import (
	"fmt"
	"sync"
	"testing"

	"github.com/jung-kurt/gofpdf"
)

// toCP1252 writes every character of the Basic Multilingual Plane as
// gofpdf's own translator for the core fonts does.
func TestCP1252AsGofpdfWritesIt(t *testing.T) {
	theirs := gofpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
	for r := rune(0); r < 0x10000; r++ {
		if r >= 0xD800 && r < 0xE000 {
			continue // surrogates: not characters
		}
		s := "a" + string(r) + "z"
		if got, want := toCP1252(s), theirs(s); got != want {
			t.Fatalf("U+%04X: %q, gofpdf writes %q", r, got, want)
		}
	}
}

// Reports are rendered at once by several intake handlers: one report's
// text must never show in another's.
func TestCP1252Concurrently(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("Zoë Ó'Brien-Łukasz %d € %s", g, string(rune('A'+g)))
			want := toCP1252(name)
			for range 2000 {
				if got := toCP1252(name); got != want {
					t.Errorf("goroutine %d: %q, want %q", g, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
