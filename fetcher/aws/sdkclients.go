package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The SDK clients reach secretsAPI and parametersAPI through method values, never as
// *secretsmanager.Client or *ssm.Client stored in an interface (or in a struct that is).
// text/template is in the binary, and then the linker keeps every exported method of every
// type that can reach an interface; *ssm.Client alone has about 150 operations, each with
// its own serializers and schemas. Held as func values, only the operations below are linked
// (docs/benchmarks.md has the sizes).

type secretsFuncs struct {
	batchGet func(context.Context, *secretsmanager.BatchGetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	get      func(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

func newSecretsFuncs(c *secretsmanager.Client) secretsFuncs {
	return secretsFuncs{batchGet: c.BatchGetSecretValue, get: c.GetSecretValue}
}

func (s secretsFuncs) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	return s.batchGet(ctx, in, opts...)
}

func (s secretsFuncs) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return s.get(ctx, in, opts...)
}

type parametersFuncs struct {
	get       func(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	getMany   func(context.Context, *ssm.GetParametersInput, ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	getByPath func(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

func newParametersFuncs(c *ssm.Client) parametersFuncs {
	return parametersFuncs{get: c.GetParameter, getMany: c.GetParameters, getByPath: c.GetParametersByPath}
}

func (p parametersFuncs) GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return p.get(ctx, in, opts...)
}

func (p parametersFuncs) GetParameters(ctx context.Context, in *ssm.GetParametersInput, opts ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	return p.getMany(ctx, in, opts...)
}

func (p parametersFuncs) GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	return p.getByPath(ctx, in, opts...)
}
