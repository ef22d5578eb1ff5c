// Package mimetype picks the media type recorded for an uploaded file: by
// extension from a built-in table, else by sniffing its first bytes. The
// table is built in, not read from the host's /etc/mime.types, so the same
// file gets the same metadata, and the same reference, on every machine.
package mimetype

import (
	"net/http"
	"path"
	"strings"
)

// Default is the type of content that nothing identifies.
const Default = "application/octet-stream"

// SniffLen is how many leading bytes [Detect] looks at.
const SniffLen = 512

// byExt maps lower-case extensions to types. Text types carry a UTF-8
// charset, as Go's own table does, so browsers read them as UTF-8.
var byExt = map[string]string{
	".7z":          "application/x-7z-compressed",
	".apk":         "application/vnd.android.package-archive",
	".avi":         "video/x-msvideo",
	".avif":        "image/avif",
	".bmp":         "image/bmp",
	".bz2":         "application/x-bzip2",
	".css":         "text/css; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".deb":         "application/vnd.debian.binary-package",
	".doc":         "application/msword",
	".docx":        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".eot":         "application/vnd.ms-fontobject",
	".epub":        "application/epub+zip",
	".flac":        "audio/flac",
	".gif":         "image/gif",
	".gz":          "application/gzip",
	".htm":         "text/html; charset=utf-8",
	".html":        "text/html; charset=utf-8",
	".ico":         "image/vnd.microsoft.icon",
	".ics":         "text/calendar; charset=utf-8",
	".iso":         "application/x-iso9660-image",
	".jar":         "application/java-archive",
	".jpeg":        "image/jpeg",
	".jpg":         "image/jpeg",
	".js":          "text/javascript; charset=utf-8",
	".json":        "application/json",
	".jsonld":      "application/ld+json",
	".m4a":         "audio/mp4",
	".md":          "text/markdown; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".mkv":         "video/x-matroska",
	".mov":         "video/quicktime",
	".mp3":         "audio/mpeg",
	".mp4":         "video/mp4",
	".mpeg":        "video/mpeg",
	".odp":         "application/vnd.oasis.opendocument.presentation",
	".ods":         "application/vnd.oasis.opendocument.spreadsheet",
	".odt":         "application/vnd.oasis.opendocument.text",
	".oga":         "audio/ogg",
	".ogg":         "audio/ogg",
	".ogv":         "video/ogg",
	".opus":        "audio/opus",
	".otf":         "font/otf",
	".pdf":         "application/pdf",
	".png":         "image/png",
	".ppt":         "application/vnd.ms-powerpoint",
	".pptx":        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".rar":         "application/vnd.rar",
	".rpm":         "application/x-rpm",
	".rtf":         "application/rtf",
	".svg":         "image/svg+xml",
	".tar":         "application/x-tar",
	".tgz":         "application/gzip",
	".tif":         "image/tiff",
	".tiff":        "image/tiff",
	".toml":        "application/toml",
	".ttf":         "font/ttf",
	".tsv":         "text/tab-separated-values; charset=utf-8",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
	".wav":         "audio/wav",
	".weba":        "audio/webm",
	".webm":        "video/webm",
	".webmanifest": "application/manifest+json",
	".webp":        "image/webp",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".xls":         "application/vnd.ms-excel",
	".xlsx":        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xml":         "application/xml",
	".xz":          "application/x-xz",
	".yaml":        "application/yaml",
	".yml":         "application/yaml",
	".zip":         "application/zip",
	".zst":         "application/zstd",
}

// ByName returns the type of a file name's extension, or "" when the table
// has none.
func ByName(name string) string {
	return byExt[strings.ToLower(path.Ext(name))]
}

// Detect returns the type of a file named name whose content starts with
// head (up to [SniffLen] bytes are used): by extension, else by sniffing
// the content as browsers do, else [Default].
func Detect(name string, head []byte) string {
	if t := ByName(name); t != "" {
		return t
	}
	if len(head) == 0 {
		return Default
	}
	return http.DetectContentType(head) // Default when nothing matches
}
