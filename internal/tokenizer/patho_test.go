package tokenizer

import (
	_ "embed"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer/internal/recipe"
)

// longRecipes lists long inputs without a break, the ones that strain the
// merge: long runs of one byte or character, random text without spaces,
// invalid UTF-8. The reference counts them at 1 MiB.
//
//go:embed testdata/long.txt
var longRecipes string

type namedText struct{ name, text string }

// pathological returns n bytes of English prose, the yardstick, then each
// input of testdata/long.txt at n bytes.
func pathological(n int) []namedText {
	english := corpus[:strings.Index(corpus, "## Changes")]
	out := []namedText{{"english", strings.Repeat(english, n/len(english)+1)[:n]}}
	names, recipes := recipe.Parse(longRecipes)
	for i, name := range names {
		s, err := recipe.Text(recipes[i], n)
		if err != nil {
			panic(name + ": " + err.Error())
		}
		out = append(out, namedText{name, s})
	}
	return out
}
