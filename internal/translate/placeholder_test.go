package translate

import "testing"

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		line          string
		whole, prefix bool
	}{
		{"Thinking...", true, true},
		{"*Thinking...*", true, true},
		{"_Thinking..._", true, true},
		{"Thinking… ", true, true},
		{"Generating image...", true, true},
		{"Thinking... (12s elapsed)", true, true},
		{"*Thinking... (1.5s elapsed)*", true, true},
		{"(7s elapsed)", true, true},
		{"Thin", false, true},
		{"*Think", false, true},
		{"Thinking..", false, true},
		{"Thinking... (12", false, true},
		{"Thinking… (3s el", false, true},
		{"", false, true},
		{"thinking...", false, false},
		{"Thinking about it, the answer is 4.", false, false},
		{"The capital of Nepal is", false, false},
		{"Thinking... done", false, false},
		{"Wait...what", false, false},
		{"Hello world", false, false},
		{"The", false, false},
		{"T", false, true},
		{"Searching the web...", true, true},
		{"Generating ", false, true},
		{"Thinking...\u00a0", false, false},
		{"Hello world.", false, false},
		{"42", false, false},
		{"Thinking... (x", false, false},
	}
	for _, tt := range tests {
		if got := isPlaceholder([]byte(tt.line)); got != tt.whole {
			t.Errorf("isPlaceholder(%q) = %v", tt.line, got)
		}
		if got := mayBePlaceholder([]byte(tt.line)); got != tt.prefix {
			t.Errorf("mayBePlaceholder(%q) = %v", tt.line, got)
		}
	}
	for line, want := range map[string]bool{"Thinking...": true, "Generating image...": false, "Searching... (3s elapsed)": true, "*Thinking...*": true} {
		if isElapsedPlaceholder([]byte(line)) != want {
			t.Errorf("isElapsedPlaceholder(%q) != %v", line, want)
		}
	}
}
