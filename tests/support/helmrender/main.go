// Command helmrender renders a Helm chart's templates the way `helm template` does, for the
// chart tests of a machine where helm itself cannot be installed.
//
// Helm's template engine is Go's text/template; what Helm adds is a set of functions (Sprig's
// and its own) and the objects .Values, .Release and .Chart. This program implements only the
// subset deploy/helm/gate uses (its README lists it): toYaml, indent, nindent, quote, default,
// required, include, join, fail, plus the text/template built-ins. Values are given as JSON
// (the test converts and merges the YAML files: the Go standard library has no YAML), numbers
// kept exactly as written. A missing map key is an error (Helm would print nothing), so a
// misspelt value name fails the test instead of rendering an empty field.
//
// Usage: helmrender -chart DIR -values values.json -chart-meta chart.json \
//
//	-release NAME -namespace NS
//
// Output: every non-empty template, in file name order, each preceded by
// "---\n# Source: <chart>/templates/<file>\n", as `helm template` prints them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

func main() {
	chartDir := flag.String("chart", "", "chart directory (holds templates/)")
	valuesFile := flag.String("values", "", "merged values as JSON")
	metaFile := flag.String("chart-meta", "", "Chart.yaml as JSON")
	release := flag.String("release", "gate", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	flag.Parse()
	if *chartDir == "" || *valuesFile == "" || *metaFile == "" {
		fmt.Fprintln(os.Stderr, "helmrender: -chart, -values and -chart-meta are required")
		os.Exit(2)
	}
	out, err := render(*chartDir, *valuesFile, *metaFile, *release, *namespace)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helmrender: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func readJSON(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	var value map[string]interface{}
	if err := decoder.Decode(&value); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return value, nil
}

func render(chartDir, valuesFile, metaFile, release, namespace string) (string, error) {
	values, err := readJSON(valuesFile)
	if err != nil {
		return "", err
	}
	meta, err := readJSON(metaFile)
	if err != nil {
		return "", err
	}
	chart := map[string]interface{}{}
	// Helm exposes Chart.yaml's fields with capitalised names (.Chart.Name, .Chart.AppVersion).
	for key, value := range meta {
		chart[strings.ToUpper(key[:1])+key[1:]] = value
	}
	top := map[string]interface{}{
		"Values":  values,
		"Chart":   chart,
		"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm"},
	}
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	root := template.New("chart").Option("missingkey=error")
	root.Funcs(functions(root))
	chartName := fmt.Sprint(meta["name"])
	var names []string
	for _, file := range files {
		base := filepath.Base(file)
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		name := chartName + "/templates/" + base
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return "", err
		}
		// Files starting with "_" only define named templates, as in Helm.
		if !strings.HasPrefix(base, "_") {
			names = append(names, name)
		}
	}
	var out strings.Builder
	for _, name := range names {
		var buffer bytes.Buffer
		if err := root.ExecuteTemplate(&buffer, name, top); err != nil {
			return "", err
		}
		text := buffer.String()
		if strings.TrimSpace(text) == "" {
			continue
		}
		out.WriteString("---\n# Source: " + name + "\n")
		out.WriteString(strings.TrimLeft(text, "\n"))
		if !strings.HasSuffix(text, "\n") {
			out.WriteString("\n")
		}
	}
	return out.String(), nil
}

func functions(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"toYaml":  toYaml,
		"indent":  indent,
		"nindent": func(n int, text string) string { return "\n" + indent(n, text) },
		"quote":   quote,
		"default": func(fallback interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return fallback
			}
			return given[0]
		},
		"required": func(message string, value interface{}) (interface{}, error) {
			if value == nil || (reflect.ValueOf(value).Kind() == reflect.String && value.(string) == "") {
				return nil, errors.New(message)
			}
			return value, nil
		},
		"fail": func(message string) (string, error) { return "", errors.New(message) },
		"include": func(name string, data interface{}) (string, error) {
			var buffer bytes.Buffer
			if err := root.ExecuteTemplate(&buffer, name, data); err != nil {
				return "", err
			}
			return buffer.String(), nil
		},
		"join": func(separator string, list interface{}) (string, error) {
			items, ok := list.([]interface{})
			if !ok {
				return "", fmt.Errorf("join: not a list: %T", list)
			}
			parts := make([]string, len(items))
			for i, item := range items {
				parts[i] = fmt.Sprint(item)
			}
			return strings.Join(parts, separator), nil
		},
	}
}

// empty is Sprig's notion: nil, false, 0, "" and empty collections.
func empty(value interface{}) bool {
	if value == nil {
		return true
	}
	if number, ok := value.(json.Number); ok {
		f, err := number.Float64()
		return err == nil && f == 0
	}
	v := reflect.ValueOf(value)
	switch v.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int() == 0
	case reflect.Float64, reflect.Float32:
		return v.Float() == 0
	}
	return false
}

func indent(n int, text string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(text, "\n", "\n"+pad)
}

func quote(values ...interface{}) string {
	parts := make([]string, 0, len(values))
	for _, value := range values {
		if value != nil {
			parts = append(parts, fmt.Sprintf("%q", fmt.Sprint(value)))
		}
	}
	return strings.Join(parts, " ")
}

// toYaml emits block YAML with map keys sorted (as Helm's sigs.k8s.io/yaml does), without a
// trailing newline (Helm trims it).
func toYaml(value interface{}) (string, error) {
	var out strings.Builder
	if err := emit(&out, value, 0); err != nil {
		return "", err
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

func emit(out *strings.Builder, value interface{}, level int) error {
	pad := strings.Repeat("  ", level)
	switch v := value.(type) {
	case map[string]interface{}:
		if len(v) == 0 {
			out.WriteString(pad + "{}\n")
			return nil
		}
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if err := emitEntry(out, pad+scalar(key)+":", v[key], level); err != nil {
				return err
			}
		}
	case []interface{}:
		if len(v) == 0 {
			out.WriteString(pad + "[]\n")
			return nil
		}
		for _, item := range v {
			if m, ok := item.(map[string]interface{}); ok && len(m) > 0 {
				// The first key goes on the dash's line, the others under it.
				var inner strings.Builder
				if err := emit(&inner, m, level+1); err != nil {
					return err
				}
				text := inner.String()
				out.WriteString(pad + "- " + strings.TrimPrefix(text, pad+"  "))
				continue
			}
			if err := emitEntry(out, pad+"-", item, level); err != nil {
				return err
			}
		}
	default:
		text, err := scalarValue(v)
		if err != nil {
			return err
		}
		out.WriteString(pad + text + "\n")
	}
	return nil
}

func emitEntry(out *strings.Builder, prefix string, value interface{}, level int) error {
	switch v := value.(type) {
	case map[string]interface{}:
		if len(v) == 0 {
			out.WriteString(prefix + " {}\n")
			return nil
		}
		out.WriteString(prefix + "\n")
		return emit(out, v, level+1)
	case []interface{}:
		if len(v) == 0 {
			out.WriteString(prefix + " []\n")
			return nil
		}
		out.WriteString(prefix + "\n")
		return emit(out, v, level+1)
	}
	text, err := scalarValue(value)
	if err != nil {
		return err
	}
	out.WriteString(prefix + " " + text + "\n")
	return nil
}

func scalarValue(value interface{}) (string, error) {
	switch v := value.(type) {
	case nil:
		return "null", nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case json.Number:
		return v.String(), nil
	case string:
		return scalar(v), nil
	}
	return "", fmt.Errorf("toYaml: cannot emit %T", value)
}

var plain = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./-]*$`)
var special = regexp.MustCompile(`^(?i:true|false|yes|no|on|off|y|n|null|~)$`)

// scalar writes a string plainly when YAML would read it back as the same string, else
// double-quoted (JSON's escaping is valid YAML).
func scalar(text string) string {
	if plain.MatchString(text) && !special.MatchString(text) {
		return text
	}
	quoted, _ := json.Marshal(text)
	return string(quoted)
}
