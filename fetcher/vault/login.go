package vault

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Auth method names, as in the config's auth.method.
const (
	MethodToken      = "token"
	MethodAppRole    = "approle"
	MethodKubernetes = "kubernetes"
	MethodJWT        = "jwt"
)

// DefaultKubernetesTokenFile is where a pod finds its service-account token.
const DefaultKubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Auth says how to obtain a Vault token.
type Auth struct {
	// Method is token (the default), approle, kubernetes or jwt.
	Method string
	// Mount is where the auth method is enabled; default: the method's name.
	Mount string
	// Role is the Vault role to log in as (kubernetes, jwt).
	Role string
	// TokenFile holds a Vault token (token method; else VAULT_TOKEN) or the
	// service-account JWT (kubernetes; default DefaultKubernetesTokenFile).
	TokenFile string
	// RoleIDFile and SecretIDFile hold the AppRole credentials. SecretIDWrapped says the
	// file holds a response-wrapping token to unwrap at login; SecretIDWrappingPath, when
	// set, is where that token must have been created; RemoveSecretIDFile removes the file
	// once read (approle.go).
	RoleIDFile, SecretIDFile string
	SecretIDWrapped          bool
	SecretIDWrappingPath     string
	RemoveSecretIDFile       bool
	// TokenSink, when set, receives every token this backend logs in with (token_sink.go).
	TokenSink *TokenSink
	// JWTFile holds the JWT presented to the jwt method.
	JWTFile string
}

// loginRequest is one login: the endpoint and the fields to PUT there. Files are read at
// every login, so rotated credentials (projected service-account tokens) are picked up.
type loginRequest struct {
	path string
	data map[string]any
	// secretID, for AppRole, supplies data["secret_id"] at login (it may need Vault to
	// unwrap it).
	secretID *secretIDSource
}

// loginFor returns a function building the login request for a, or nil for the token
// method, which has no login.
func loginFor(a Auth) (func() (loginRequest, error), error) {
	mount := strings.Trim(a.Mount, "/")
	if mount == "" {
		mount = a.Method
	}
	path := "auth/" + mount + "/login"
	switch a.Method {
	case "", MethodToken:
		return nil, nil
	case MethodAppRole:
		if a.RoleIDFile == "" {
			return nil, fmt.Errorf("approle needs role_id_file")
		}
		var src *secretIDSource
		if a.SecretIDFile != "" {
			src = &secretIDSource{file: a.SecretIDFile, wrapped: a.SecretIDWrapped,
				wrapPath: strings.Trim(a.SecretIDWrappingPath, "/"), removeAfterRead: a.RemoveSecretIDFile}
		}
		return func() (loginRequest, error) {
			roleID, err := readCredential(a.RoleIDFile, "role_id_file")
			if err != nil {
				return loginRequest{}, err
			}
			return loginRequest{path: path, data: map[string]any{"role_id": roleID}, secretID: src}, nil
		}, nil
	case MethodKubernetes, MethodJWT:
		file, name := a.JWTFile, "jwt_file"
		if a.Method == MethodKubernetes {
			file, name = a.TokenFile, "token_file"
			if file == "" {
				file = DefaultKubernetesTokenFile
			}
		}
		if file == "" {
			return nil, fmt.Errorf("%s needs %s", a.Method, name)
		}
		return func() (loginRequest, error) {
			jwt, err := readCredential(file, name)
			if err != nil {
				return loginRequest{}, err
			}
			data := map[string]any{"jwt": jwt}
			if a.Role != "" {
				data["role"] = a.Role
			}
			return loginRequest{path: path, data: data}, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown auth method %q (methods: %s, %s, %s, %s)", a.Method, MethodToken, MethodAppRole, MethodKubernetes, MethodJWT)
}

// readCredential reads a one-line credential file. Errors name the file, never its content.
func readCredential(file, field string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", field, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", fmt.Errorf("%s %s is empty", field, file)
	}
	return string(b), nil
}
