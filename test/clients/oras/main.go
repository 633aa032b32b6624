// An ORAS client for Pier's end-to-end tests, built on Debian's oras-go library
// (golang-oras-oras-go-dev, oras-go 1.1.1). It pushes an artifact with an
// artifactType, pushes a referrer whose subject is that artifact, lists the
// referrers back (all of them, then filtered by artifactType) and fetches both.
// It prints what it did as one JSON object; the test checks it against Pier.
//
// Built offline from the Debian sources, in GOPATH mode (Debian's packages are
// GOPATH sources, not a module cache; a go.mod would make go download modules):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o oras-client .
//
// oras-go 1.1.1 pushes and fetches through containerd's resolver (token auth
// included) but predates the OCI 1.1 referrers API, so the listing is a GET of
// /v2/<name>/referrers/<digest> through the library's authenticating client.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/pkg/content"
	"oras.land/oras-go/pkg/oras"
	"oras.land/oras-go/pkg/registry/remote/auth"
)

const (
	artifactType  = "application/vnd.pier.test.artifact"
	signatureType = "application/vnd.pier.test.signature"
	emptyConfig   = "application/vnd.oci.empty.v1+json"
)

// manifest is an OCI 1.1 image manifest: the library's image-spec predates artifactType.
type manifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        ocispec.Descriptor   `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Subject       *ocispec.Descriptor  `json:"subject,omitempty"`
	Annotations   map[string]string    `json:"annotations,omitempty"`
}

type referrers struct {
	Manifests []struct {
		MediaType    string `json:"mediaType"`
		Digest       string `json:"digest"`
		ArtifactType string `json:"artifactType"`
	} `json:"manifests"`
}

type result struct {
	Artifact         string    `json:"artifact"`
	Referrer         string    `json:"referrer"`
	Referrers        referrers `json:"referrers"`
	Signatures       referrers `json:"signatures"`
	FetchedFile      string    `json:"fetchedFile"`
	FetchedSignature string    `json:"fetchedSignature"`
}

var (
	registryHost = flag.String("registry", "", "host:port of the registry (plain HTTP)")
	repository   = flag.String("repository", "", "repository to push to")
	username     = flag.String("username", "", "username (token mode)")
	password     = flag.String("password", "", "password (token mode)")
	file         = flag.String("content", "hello from oras", "content of the artifact's file")
)

func main() {
	flag.Parse()
	if *registryHost == "" || *repository == "" {
		fail(fmt.Errorf("-registry and -repository are required"))
	}
	ctx := context.Background()
	remote, err := content.NewRegistry(content.RegistryOptions{Username: *username, Password: *password, PlainHTTP: true})
	check(err)
	base := *registryHost + "/" + *repository

	// the artifact: one file, the empty config, an artifactType, under the tag v1
	store := content.NewMemory()
	config, err := store.Add("", emptyConfig, []byte("{}"))
	check(err)
	layer, err := store.Add("hello.txt", "application/vnd.pier.test.file", []byte(*file))
	check(err)
	artifact := pushManifest(ctx, store, remote, base+":v1", manifest{Config: config, Layers: []ocispec.Descriptor{layer}, ArtifactType: artifactType})

	// a referrer: a signature whose subject is the artifact, pushed by digest only
	signed, err := store.Add("signature.sig", "application/vnd.pier.test.signature.blob", []byte("signed: "+artifact.Digest.String()))
	check(err)
	signature := pushManifest(ctx, store, remote, base, manifest{Config: config, Layers: []ocispec.Descriptor{signed}, ArtifactType: signatureType, Subject: &artifact})

	out := result{Artifact: artifact.Digest.String(), Referrer: signature.Digest.String()}
	out.Referrers = listReferrers(ctx, artifact.Digest, "")
	out.Signatures = listReferrers(ctx, artifact.Digest, signatureType)

	// fetch both back into a fresh store, by tag and by digest
	fetched := content.NewMemory()
	_, err = oras.Copy(ctx, remote, base+":v1", fetched, "artifact")
	check(err)
	_, bytes, ok := fetched.GetByName("hello.txt")
	if !ok {
		fail(fmt.Errorf("hello.txt is not in the fetched artifact"))
	}
	out.FetchedFile = string(bytes)
	_, err = oras.Copy(ctx, remote, base+"@"+signature.Digest.String(), fetched, "signature")
	check(err)
	_, bytes, ok = fetched.GetByName("signature.sig")
	if !ok {
		fail(fmt.Errorf("signature.sig is not in the fetched referrer"))
	}
	out.FetchedSignature = string(bytes)

	check(json.NewEncoder(os.Stdout).Encode(out))
}

// pushManifest stores the manifest beside its blobs and copies it, with them, to `ref`
// (host/name:tag, or host/name to push by digest).
func pushManifest(ctx context.Context, store *content.Memory, remote *content.Registry, ref string, m manifest) ocispec.Descriptor {
	m.SchemaVersion = 2
	m.MediaType = ocispec.MediaTypeImageManifest
	bytes, err := json.Marshal(m)
	check(err)
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(bytes), Size: int64(len(bytes))}
	local := "local-" + desc.Digest.Encoded()
	check(store.StoreManifest(local, desc, bytes))
	pushed, err := oras.Copy(ctx, store, local, remote, ref)
	check(err)
	if pushed.Digest != desc.Digest {
		fail(fmt.Errorf("pushed %s, expected %s", pushed.Digest, desc.Digest))
	}
	return desc
}

// listReferrers asks the registry's referrers API, authenticating as the library does.
func listReferrers(ctx context.Context, subject digest.Digest, filter string) referrers {
	client := &auth.Client{
		Credential: func(context.Context, string) (auth.Credential, error) {
			return auth.Credential{Username: *username, Password: *password}, nil
		},
	}
	ctx = auth.WithScopes(ctx, auth.ScopeRepository(*repository, "pull"))
	target := fmt.Sprintf("http://%s/v2/%s/referrers/%s", *registryHost, *repository, subject)
	if filter != "" {
		target += "?artifactType=" + url.QueryEscape(filter)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	check(err)
	resp, err := client.Do(req)
	check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	check(err)
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Errorf("GET %s: %s: %s", target, resp.Status, body))
	}
	var list referrers
	check(json.Unmarshal(body, &list))
	return list
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "oras-client:", err)
	os.Exit(1)
}
