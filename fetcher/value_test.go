package fetcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"
)

const canary = "CANARY-9f3b-value"

// holder has the value in an unexported field: fmt prints such fields by reflection,
// without calling their methods.
type holder struct {
	name  string
	value Value
}

func TestValueNeverPrints(t *testing.T) {
	v := StringValue(canary)
	s := Secret{Value: v, Data: map[string]Value{"k": v}}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder{"n", v}), fmt.Sprintf(verb, &holder{"n", v}))
	}
	j, _ := json.Marshal(s)
	outs = append(outs, string(j))
	y, _ := yaml.Marshal(map[string]Value{"k": v})
	outs = append(outs, string(y))
	outs = append(outs, fmt.Errorf("wrapped: %v", v).Error(), errors.New(fmt.Sprint(v)).Error())

	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel))
	log.Info("x", zap.Any("v", v), zap.Stringer("s", v), zap.Any("secret", s), zap.Any("holder", holder{"n", v}), zap.Reflect("r", s))
	outs = append(outs, buf.String())

	for _, o := range outs {
		if strings.Contains(o, canary) || strings.Contains(o, fmt.Sprintf("%x", canary)) {
			t.Errorf("a value leaked: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprint(v), "[REDACTED]") {
		t.Errorf("got %q, want [REDACTED]", fmt.Sprint(v))
	}
	if string(v.Reveal()) != canary {
		t.Errorf("Reveal() = %q, want the value", v.Reveal())
	}
}

func TestParseJSONObject(t *testing.T) {
	m, err := ParseJSONObject([]byte(`{"database_url":"postgresql://u:p@h/db","port":5432,"on":true,"nested":{"a":1},"nil":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"database_url": "postgresql://u:p@h/db", "port": "5432", "on": "true", "nested": `{"a":1}`, "nil": ""}
	for k, w := range want {
		if got := string(m[k].Reveal()); got != w {
			t.Errorf("%s: got %q, want %q", k, got, w)
		}
	}
	for _, plain := range []string{"sk-abc", "", "[1,2]", "{not json", `"str"`} {
		if m, err := ParseJSONObject([]byte(plain)); m != nil || err != nil {
			t.Errorf("ParseJSONObject(%q) = %v, %v; want nil, nil", plain, m, err)
		}
	}
}

func TestFieldAndWhole(t *testing.T) {
	s := Secret{Data: map[string]Value{"a": StringValue("1")}}
	if _, err := s.Field("b"); !errors.Is(err, ErrMissingKey) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Field(b): got %v, want ErrMissingKey (not ErrNotFound) naming b and listing the keys", err)
	}
	if _, err := s.Whole(); err == nil || !strings.Contains(err.Error(), "#key") {
		t.Errorf("Whole() on a key/value secret: got %v, want advice to use #key", err)
	}
	if _, err := (Secret{Value: StringValue("x")}).Field("a"); !errors.Is(err, ErrNoFields) {
		t.Errorf("Field on a plain secret: got %v, want ErrNoFields", err)
	}
}
