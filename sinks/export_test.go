package sinks

// Exported for the engine-level test in package sinks_test (which cannot live in package
// sinks: the engine imports sinks).
var (
	ReadPythonDotenv = readPythonDotenv
	ReadCompose      = readCompose
	ReadDocker       = readDocker
	ReadShell        = readShell
	DiffMaps         = diffMaps
)
