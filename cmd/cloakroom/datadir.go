package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloakroom/cloakroom/internal/agentenv"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Files in the data directory.
const (
	caCertFile    = agentenv.CAFile
	caKeyFile     = "ca-key.pem"
	masterKeyFile = "master.key"
	bundleFile    = agentenv.BundleFile
	storeFile     = "vault.db"
	approvalsFile = "approvals.db"
)

// loadOrCreateAdminToken reads the approvers' admin token from path (an owner-only
// file); when create is set and the file does not exist, it makes one.
func loadOrCreateAdminToken(path string, create bool) (string, error) {
	if create && !exists(path) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		tok := "cadm_" + hex.EncodeToString(b[:])
		if err := writeNew(path, []byte(tok+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		return tok, nil
	}
	b, err := readPrivate(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("admin token: %s holds fewer than 16 characters", path)
	}
	return tok, nil
}

// masterKeyEnv holds the master key (base64) for replicas that share it by
// environment rather than by file.
const masterKeyEnv = "CLOAKROOM_MASTER_KEY"

// keySources says where the CA and the master key come from when not from the data
// directory: replicas share them (files given to each, or the environment).
type keySources struct {
	caCert, caKey string // PEM files; both or neither
	masterKeyFile string // base64 of 32 bytes
	masterKeyEnv  string // base64 of 32 bytes, the value of CLOAKROOM_MASTER_KEY
}

// dataDir holds what `serve` keeps on disk.
type dataDir struct {
	path    string
	ca      *proxy.CA
	master  []byte
	created bool // the CA was made on this start
}

// openDataDir creates the directory (0700) and, on first start, the CA, its key and
// the master key (0600), then loads them. A CA or master key given in src is used
// instead of the data directory's own, which is then neither made nor read.
func openDataDir(path string, src keySources) (*dataDir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	d := &dataDir{path: path}
	certPath, keyPath := d.file(caCertFile), d.file(caKeyFile)
	if (src.caCert == "") != (src.caKey == "") {
		return nil, errors.New("ca_cert and ca_key go together: give both or neither")
	}
	if src.caCert != "" {
		certPath, keyPath = src.caCert, src.caKey
	} else if !exists(certPath) && !exists(keyPath) {
		certPEM, keyPEM, err := proxy.GenerateCA("cloakroom local CA")
		if err != nil {
			return nil, err
		}
		if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := writeNew(certPath, certPEM, 0o644); err != nil {
			return nil, err
		}
		d.created = true
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := readPrivate(keyPath)
	if err != nil {
		return nil, err
	}
	if d.ca, err = proxy.NewCA(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	switch {
	case src.masterKeyFile != "":
		if d.master, err = loadMasterKey(src.masterKeyFile); err != nil {
			return nil, err
		}
	case src.masterKeyEnv != "":
		if d.master, err = decodeMasterKey(src.masterKeyEnv); err != nil {
			return nil, fmt.Errorf("%s: %w", masterKeyEnv, err)
		}
	default:
		if d.master, err = loadOrCreateMasterKey(d.file(masterKeyFile)); err != nil {
			return nil, err
		}
	}
	if err := d.writeBundle(certPEM); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dataDir) file(name string) string { return filepath.Join(d.path, name) }

func loadOrCreateMasterKey(path string) ([]byte, error) {
	if !exists(path) {
		key, err := tokenize.GenerateMasterKey()
		if err != nil {
			return nil, err
		}
		if err := writeNew(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return loadMasterKey(path)
}

// loadMasterKey reads a master key file (owner-only, base64 of 32 bytes).
func loadMasterKey(path string) ([]byte, error) {
	b, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	key, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

// decodeMasterKey decodes the base64 text of a master key. The error never holds it.
func decodeMasterKey(text string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil || len(key) != 32 {
		return nil, errors.New("want 32 random bytes written as base64 (head -c 32 /dev/urandom | base64)")
	}
	return key, nil
}

// readPrivate reads a key file and refuses one that others can read.
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %v: it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return b, nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// systemBundles are where Linux distributions and macOS keep their root bundles.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// writeBundle writes system roots plus our CA, for SSL_CERT_FILE and friends: pointing
// them at our CA alone would make every other host fail.
func (d *dataDir) writeBundle(caPEM []byte) error {
	var buf bytes.Buffer
	sources := systemBundles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" && f != d.file(bundleFile) {
		sources = append([]string{f}, sources...)
	}
	for _, p := range sources {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			buf.Write(b)
			if !bytes.HasSuffix(b, []byte("\n")) {
				buf.WriteByte('\n')
			}
			break
		}
	}
	buf.WriteString("# cloakroom local CA\n")
	buf.Write(caPEM)
	if err := os.WriteFile(d.file(bundleFile)+".tmp", buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return os.Rename(d.file(bundleFile)+".tmp", d.file(bundleFile))
}
