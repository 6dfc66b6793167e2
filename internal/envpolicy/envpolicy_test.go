package envpolicy

import "testing"

func TestDenied(t *testing.T) {
	for _, name := range []string{
		"LD_PRELOAD", "LD_LIBRARY_PATH", "ld_audit", "PATH", "Path", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME",
		"NODE_OPTIONS", "BASH_ENV", "ENV", "IFS", "PS4", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN",
		"RES_OPTIONS", "TZDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "HOME", "SHELL", "DYLD_INSERT_LIBRARIES",
	} {
		if !Denied(name) {
			t.Errorf("Denied(%q) = false, want true", name)
		}
	}
	for _, name := range []string{
		"API_KEYS", "DATABASE_URL", "APP_PATH", "MY_HOME", "ENVIRONMENT", "LLM_PROVIDER", "OPENAI_API_KEY",
		"PY_VERSION", "LDAP_PASSWORD", "SHELLY", "TZ",
	} {
		if Denied(name) {
			t.Errorf("Denied(%q) = true, want false", name)
		}
	}
}

func TestAllowed(t *testing.T) {
	if Allowed("LD_PRELOAD", nil) {
		t.Error("LD_PRELOAD allowed without an allow list")
	}
	if !Allowed("LD_PRELOAD", []string{"LD_PRELOAD"}) {
		t.Error("LD_PRELOAD refused although listed")
	}
	if Allowed("LD_AUDIT", []string{"LD_PRELOAD"}) {
		t.Error("LD_AUDIT allowed by an allow list naming only LD_PRELOAD")
	}
	if !Allowed("API_KEYS", nil) {
		t.Error("API_KEYS refused")
	}
}
