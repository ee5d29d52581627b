// Command pulumi_loader prints a stack's config as the Pulumi CLI hands it to a program.
//
// It is the test oracle for components/settings/pulumi_yaml.py and stack_file.py: the Python
// reader imitates Pulumi's Go loader, and tests/integration/test_stack_loader.py checks it
// against this program, which *is* that loader (sdk/v3/go/common/workspace).
//
// Usage: pulumi_loader Pulumi.yaml Pulumi.<stack>.yaml
//
// Output (stdout, exit 0): a JSON object, each full key -> {"value": text, "secret": bool}, where
// text is what the program would see. A `secure:` value cannot be decrypted here, so every
// ciphertext decrypts to the placeholder "[secret]" (the same one the Python reader uses); a
// structured value holding one still prints as JSON around it. On a loader error it prints the
// error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// placeholder is what an offline read sees for a secret (components/settings/model.py).
const placeholder = "[secret]"

// placeholderDecrypter stands in for the stack's secrets provider, which is not here.
type placeholderDecrypter struct{}

func (placeholderDecrypter) DecryptValue(context.Context, string) (string, error) {
	return placeholder, nil
}

func (placeholderDecrypter) BatchDecrypt(_ context.Context, ciphertexts []string) ([]string, error) {
	out := make([]string, len(ciphertexts))
	for i := range out {
		out[i] = placeholder
	}
	return out, nil
}

type entry struct {
	Value  string `json:"value"`
	Secret bool   `json:"secret"`
}

func load(projectPath, stackPath string) (map[string]entry, error) {
	project, err := workspace.LoadProject(projectPath)
	if err != nil {
		return nil, err
	}
	stack, err := workspace.LoadProjectStack(nil, project, stackPath)
	if err != nil {
		return nil, err
	}
	// The CLI decrypts the whole map at once before it starts the program (Map.Decrypt).
	texts, err := stack.Config.Decrypt(placeholderDecrypter{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]entry, len(texts))
	for key, text := range texts {
		out[key.String()] = entry{Value: text, Secret: stack.Config[key].Secure()}
	}
	return out, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pulumi_loader Pulumi.yaml Pulumi.<stack>.yaml")
		os.Exit(2)
	}
	out, err := load(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
