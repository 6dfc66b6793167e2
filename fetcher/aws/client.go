// Package aws reads AWS Secrets Manager secrets and SSM Parameter Store parameters.
//
// Refs (after the backend name):
//
//	NAME_OR_ARN[#key][@VERSION_ID|@AWSCURRENT|@AWSPREVIOUS|@AWSPENDING]   Secrets Manager
//	ssm:/path/name[#key][@VERSION|@LABEL]                                  one SSM parameter
//	ssm:/path/                                                             every parameter under a path
//
// One refresh reads every unversioned secret with BatchGetSecretValue, 20 ids per call, and
// every SSM parameter with GetParameters, 10 names per call. Throttling is retried with
// jittered exponential backoff here, not in the SDK, so that it is bounded and cancellable
// in one place.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// Options configure a Client. Credentials always come from the SDK's default chain
// (environment, shared config, web identity/IRSA, ECS container credentials, instance
// metadata), optionally used to assume RoleARN.
type Options struct {
	Region string // else AWS_REGION or the profile's region
	// Endpoint replaces the AWS endpoint of every service this backend calls (Secrets
	// Manager, SSM, STS): for emulators such as moto. Without it the SDK's own
	// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> apply.
	Endpoint string
	Profile  string // a profile of the shared config files
	RoleARN  string // assumed with STS when set
	// HTTPClient, when set, carries every request (a proxy, or a test counting calls).
	HTTPClient *http.Client
}

// secretsAPI is the part of Secrets Manager this backend calls.
type secretsAPI interface {
	BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// parametersAPI is the part of SSM Parameter Store this backend calls.
type parametersAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, opts ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// Client is the aws backend. Safe for concurrent use.
type Client struct {
	sm      secretsAPI
	ps      parametersAPI
	log     *zap.Logger
	backoff backoff

	// batchDenied is set once BatchGetSecretValue is refused as a whole (a policy that
	// grants GetSecretValue only); later reads then use GetSecretValue per secret.
	batchDenied atomic.Bool

	// pinned holds secrets read by version id. A version's content never changes in
	// Secrets Manager, so a pinned ref is read once per process.
	mu     sync.Mutex
	pinned map[target]fetcher.Secret
}

var (
	_ fetcher.Backend = (*Client)(nil)
	_ fetcher.Batcher = (*Client)(nil)
)

// New loads the AWS configuration and builds the clients. It does not call AWS.
func New(ctx context.Context, o Options, log *zap.Logger) (*Client, error) {
	var loads []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loads = append(loads, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	if o.HTTPClient != nil {
		loads = append(loads, awsconfig.WithHTTPClient(o.HTTPClient))
	}
	loads = append(loads, awsconfig.WithRetryer(sdkRetryer))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set region in the backend, or AWS_REGION")
	}
	if o.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(so *sts.Options) { setEndpoint(&so.BaseEndpoint, o.Endpoint) })
		cfg.Credentials = sdkaws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, o.RoleARN,
			func(ao *stscreds.AssumeRoleOptions) { ao.RoleSessionName = "patas-secrets" }))
	}
	sm := secretsmanager.NewFromConfig(cfg, func(so *secretsmanager.Options) { setEndpoint(&so.BaseEndpoint, o.Endpoint) })
	ps := ssm.NewFromConfig(cfg, func(so *ssm.Options) { setEndpoint(&so.BaseEndpoint, o.Endpoint) })
	return newClient(newSecretsFuncs(sm), newParametersFuncs(ps), log), nil
}

func newClient(sm secretsAPI, ps parametersAPI, log *zap.Logger) *Client {
	if log == nil {
		log = zap.NewNop()
	}
	return &Client{sm: sm, ps: ps, log: log, backoff: defaultBackoff, pinned: map[target]fetcher.Secret{}}
}

func setEndpoint(dst **string, endpoint string) {
	if endpoint != "" {
		*dst = sdkaws.String(endpoint)
	}
}

// sdkRetryer is the SDK's standard retryer (transient network and 5xx errors) minus
// throttling, which Client retries itself with its own bounded, cancellable backoff;
// retrying it in both places would multiply the attempts.
func sdkRetryer() sdkaws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) sdkaws.Ternary {
			if isThrottle(err) {
				return sdkaws.FalseTernary
			}
			return sdkaws.UnknownTernary
		})}, o.Retryables...)
	})
}

// Fetch reads one ref (its key is ignored: the engine selects it).
func (c *Client) Fetch(ctx context.Context, ref fetcher.Ref) (fetcher.Secret, error) {
	r := c.FetchAll(ctx, []fetcher.Ref{ref})[0]
	return r.Secret, r.Err
}

// Close releases nothing: the SDK's HTTP connections close with the process.
func (c *Client) Close() error { return nil }
