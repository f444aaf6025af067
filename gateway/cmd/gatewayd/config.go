package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Config is the gateway's configuration: defaults, then the file named by
// GATEWAY_CONFIG (or -config), then environment overrides.
type Config struct {
	Addr           string        `json:"addr"`           // GATEWAY_ADDR
	DataDir        string        `json:"dataDir"`        // GATEWAY_DATA: folder of the embedded store
	MaxBodyBytes   int64         `json:"maxBodyBytes"`   // GATEWAY_MAX_BODY_BYTES
	IdentifierBase string        `json:"identifierBase"` // the deployment's own FHIR identifier systems
	Tokens         []TokenConfig `json:"tokens"`
}

// TokenConfig grants a bearer token a role (and, for labs and trusts, an organisation).
type TokenConfig struct {
	Name    string       `json:"name"` // shown in logs and audit instead of the token
	Token   string       `json:"token,omitempty"`
	Env     string       `json:"tokenEnv,omitempty"` // or: read the token from this environment variable
	Role    gateway.Role `json:"role"`
	ODSCode string       `json:"odsCode,omitempty"`
}

func defaultConfig() Config {
	return Config{Addr: ":8080", DataDir: "./var", MaxBodyBytes: 20 << 20}
}

// loadConfig reads the file (if any) over the defaults and applies the environment.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read configuration: %w", err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return cfg, fmt.Errorf("configuration file %s is not valid JSON: %w", path, err)
		}
	}
	if v := getenv("GATEWAY_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("GATEWAY_DATA"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("GATEWAY_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("GATEWAY_MAX_BODY_BYTES=%q is not a number of bytes", v)
		}
		cfg.MaxBodyBytes = n
	}
	for i := range cfg.Tokens {
		if t := &cfg.Tokens[i]; t.Env != "" {
			t.Token = getenv(t.Env)
		}
	}
	return cfg, cfg.validate()
}

var odsCode = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

// validate returns every configuration problem at once, in words an operator can act on.
func (c Config) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: a listen address such as :8080 is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: a folder for the embedded store is required"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("maxBodyBytes: %d is too small for a report", c.MaxBodyBytes))
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		where := fmt.Sprintf("tokens[%d] (%s)", i, t.Name)
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("tokens[%d]: name is required", i))
		case t.Token == "" && t.Env != "":
			errs = append(errs, fmt.Errorf("%s: environment variable %s is empty", where, t.Env))
		case len(t.Token) < 12:
			errs = append(errs, fmt.Errorf("%s: token must be at least 12 characters", where))
		case seen[t.Token]:
			errs = append(errs, fmt.Errorf("%s: the same token is configured twice", where))
		}
		seen[t.Token] = true
		switch t.Role {
		case gateway.RoleLab, gateway.RoleTrust:
			if !odsCode.MatchString(t.ODSCode) {
				errs = append(errs, fmt.Errorf("%s: role %s needs the organisation's ODS code (got %q)", where, t.Role, t.ODSCode))
			}
		case gateway.RoleOperator:
		default:
			errs = append(errs, fmt.Errorf("%s: role %q is not lab, trust or operator", where, t.Role))
		}
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("tokens: at least one token is required: every endpoint that takes or serves results needs one"))
	}
	return errors.Join(errs...)
}
