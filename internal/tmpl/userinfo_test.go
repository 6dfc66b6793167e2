package tmpl

import (
	"fmt"
	"testing"
)

func TestUnencodedUserinfo(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{`postgresql://u:{{ secret "f:pw" }}@db:5432/patas`, []string{"f:pw"}},
		{`postgresql://{{ secret "f:user" }}:{{ secret "f:pw" }}@db/patas`, []string{"f:user", "f:pw"}},
		{`postgresql://u:{{ secret "f:pw" | urlencode }}@db/patas`, nil},
		{`postgresql://u:{{ urlencode (secret "f:pw") }}@db/patas`, nil},
		{`postgresql://u:{{ secret "f:pw" | urlquery }}@db/patas`, nil},
		{`postgresql://u@db/patas?password={{ secret "f:pw" }}`, nil}, // query, not user info
		{`redis://db:6379/{{ secret "f:n" }}`, nil},
		{`{{ secret "f:pw" }}`, nil},
		{`Bearer {{ secret "f:tok" }} @ noon`, nil},
	} {
		tp, err := Parse("X", tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got := tp.UnencodedUserinfo(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.text, got, tc.want)
		}
	}
}
