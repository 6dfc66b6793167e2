package deploy_test

// cleanupImages is replaced by the Docker tests' image cache.
func cleanupImages() {}
