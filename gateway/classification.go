package gateway

import (
	"cmp"
	"regexp"
	"strings"
)

// UK labs write a variant's ACMG/ACGS class in many ways besides LOINC's
// answer text: "Class 5", "C4", "LP", "VUS (Class 3)", "Pathogenic (ACMG
// Class 5)". A classification the decoder cannot read leaves the variant
// unclassified in the PDF and without its diagnostic implication in FHIR,
// so these are read here rather than only warned about.
var (
	// classNumber finds the class's number: "class 5", "class5", "c5".
	classNumber = regexp.MustCompile(`\b(?:class\s*|c)([1-5])\b`)
	// classPunctuation separates words: "Pathogenic - Class 5", "likely_pathogenic".
	classPunctuation = regexp.MustCompile(`[()\[\]\-_,:;/.]+`)
	// classNoise are words that name the scheme, not the class.
	classNoise = regexp.MustCompile(`\b(acmg|acgs|uk|class|classification|category|variant)\b`)
)

// acmgByNumber are the five ACMG/ACGS classes by number.
var acmgByNumber = map[string]string{"1": "benign", "2": "likely-benign", "3": "uncertain-significance", "4": "likely-pathogenic", "5": "pathogenic"}

// acmgByWords are the classes by name and abbreviation, once the scheme's
// words ("ACMG", "variant", "class") are taken out.
var acmgByWords = map[string]string{
	"p": "pathogenic", "pathogenic": "pathogenic",
	"lp": "likely-pathogenic", "likely pathogenic": "likely-pathogenic",
	"vus": "uncertain-significance", "vous": "uncertain-significance", "uncertain significance": "uncertain-significance",
	"of uncertain significance": "uncertain-significance", "unknown significance": "uncertain-significance",
	"of unknown significance": "uncertain-significance", "uncertain": "uncertain-significance",
	"lb": "likely-benign", "likely benign": "likely-benign",
	"b": "benign", "benign": "benign",
}

// ACMGClass reads a UK wording of an ACMG/ACGS class, case-insensitive:
// a number ("Class 4", "C4"), a name or abbreviation ("Likely pathogenic",
// "LP"), or both ("LP (Class 4)"). Both must name the same class: "Likely
// pathogenic (Class 5)" contradicts itself and is not read. Anything left
// over that is not a scheme's word ("Class 5 - see note") is not read
// either, so a qualified classification is never filed as a plain one.
func ACMGClass(s string) (string, bool) {
	t := strings.ToLower(classPunctuation.ReplaceAllString(s, " "))
	byNumber := ""
	for _, m := range classNumber.FindAllStringSubmatch(t, -1) {
		if byNumber != "" && byNumber != acmgByNumber[m[1]] {
			return "", false
		}
		byNumber = acmgByNumber[m[1]]
	}
	t = classNumber.ReplaceAllString(t, " ")
	words := strings.Join(strings.Fields(classNoise.ReplaceAllString(t, " ")), " ")
	byWords, ok := acmgByWords[words]
	switch {
	case words != "" && !ok:
		return "", false
	case byWords != "" && byNumber != "" && byWords != byNumber:
		return "", false
	}
	class := cmp.Or(byWords, byNumber)
	return class, class != ""
}
