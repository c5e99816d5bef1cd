package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloakroom/cloakroom/detect"
)

// resolveDetectPaths returns section with a relative gitleaks_config made relative
// to the directory of configPath, the file the section was read from ("" leaves it
// relative to the working directory).
func resolveDetectPaths(configPath string, section detect.FileConfig) detect.FileConfig {
	if configPath != "" && section.GitleaksConfig != "" && !filepath.IsAbs(section.GitleaksConfig) {
		section.GitleaksConfig = filepath.Join(filepath.Dir(configPath), section.GitleaksConfig)
	}
	return section
}

// loadDetector builds the detector a detect: section describes (its paths already
// resolved by resolveDetectPaths): the built-in catalog, the rules of its gitleaks
// config, its custom rules, disabled rules, the PII class and the allowlist.
// Warnings name what a gitleaks import left out or changed (rule ids and reasons,
// never a value); the caller shows or logs them. An error gathers every problem.
func loadDetector(section detect.FileConfig) (*detect.Detector, []string, error) {
	cfg, warnings, err := section.Build(os.ReadFile)
	if err != nil {
		return nil, warnings, fmt.Errorf("detect: %w", err)
	}
	det, err := detect.New(cfg)
	if err != nil {
		return nil, warnings, fmt.Errorf("detect: %w", err)
	}
	return det, warnings, nil
}

// loadDetectorFile builds the detector of the detect: section of the config file at
// path, or the built-in catalog when path is "". The file is checked as serve checks
// it (unknown keys anywhere are errors); only its detect: section is used. This is
// what cloakroom scan --config uses.
func loadDetectorFile(path string) (*detect.Detector, []string, error) {
	if path == "" {
		return loadDetector(detect.FileConfig{})
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	return loadDetector(resolveDetectPaths(path, fc.Detect))
}
