#!/usr/bin/env bash
# Deploys the K9 API (infrastructure/template.yaml) with the Lambda package from
# scripts/package. See docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'EOF'
Usage: scripts/deploy.sh --environment ENV --user-pool-id POOL_ID --bucket-name BUCKET [options]

Builds build/lambda.zip (scripts/package) and deploys infrastructure/template.yaml as a
CloudFormation stack: with `sam deploy` when the SAM CLI is installed, otherwise with
`aws cloudformation package` (code uploaded to s3://ARTIFACT_BUCKET/artifacts/) and
`aws cloudformation deploy`.

Required:
  --environment ENV        dev, staging or prod (database key databases/k9_api_ENV.db)
  --user-pool-id POOL_ID   Cognito user pool whose tokens the API accepts, REGION_ID
                           (e.g. us-east-1_AbC123); it must be in the stack's region
  --bucket-name BUCKET     S3 bucket of the database

Options:
  --region REGION          AWS region (default: the user pool's region)
  --stack-name NAME        CloudFormation stack (default: k9-api-ENV)
  --create-bucket BOOL     true: the stack creates BUCKET (versioned, encrypted, TLS only);
                           false (default): BUCKET already exists, as when the database was
                           uploaded first with `k9db --upload`
  --artifact-bucket NAME   bucket for the code package (default: BUCKET; with
                           --create-bucket true, an existing bucket, or SAM's own)
  --dry-run                print every command, one per line prefixed "+ ", and run none
  -h, --help               this help

Exit codes: 0 deployed; 1 a command failed; 2 usage error or missing AWS credentials.
EOF
}

usage_error() {
    echo "deploy.sh: $*" >&2
    echo "Run scripts/deploy.sh --help for usage." >&2
    exit 2
}

take() {  # the value of flag $arg: --flag=VALUE ($value) or --flag VALUE (the next argument)
    if ((has_value)); then
        echo "$value"
    elif (($# >= 1)) && [ -n "$1" ] && [ "${1#--}" = "$1" ]; then
        echo "$1"
    else
        usage_error "$arg needs a value"
    fi
}

environment="" pool_id="" bucket="" region="" stack="" create_bucket="false" artifact_bucket="" dry_run=0
while (($#)); do
    arg=$1
    value=""
    has_value=0
    case "$arg" in
        --*=*)
            value=${arg#*=}
            arg=${arg%%=*}
            has_value=1
            ;;
    esac
    case "$arg" in
        --environment | --user-pool-id | --bucket-name | --region | --stack-name | --create-bucket | --artifact-bucket)
            v=$(take "${@:2}") || exit 2
            ((has_value)) || shift
            case "$arg" in
                --environment) environment=$v ;;
                --user-pool-id) pool_id=$v ;;
                --bucket-name) bucket=$v ;;
                --region) region=$v ;;
                --stack-name) stack=$v ;;
                --create-bucket) create_bucket=$v ;;
                --artifact-bucket) artifact_bucket=$v ;;
            esac
            ;;
        --dry-run) dry_run=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) usage_error "unknown argument: $arg" ;;
    esac
    shift
done

# ---------------------------------------------------------------- checks (exit 2)
[ -n "$environment" ] || usage_error "--environment is required (dev, staging or prod)"
[ -n "$pool_id" ] || usage_error "--user-pool-id is required (the Cognito user pool id, e.g. us-east-1_AbC123)"
[ -n "$bucket" ] || usage_error "--bucket-name is required (the S3 bucket of the database)"
case "$environment" in
    dev | staging | prod) ;;
    *) usage_error "--environment must be dev, staging or prod, not '$environment'" ;;
esac
readonly region_re='^[a-z]{2}(-[a-z]+)+-[0-9]+$'
[[ "$pool_id" =~ ^([a-z]{2}(-[a-z]+)+-[0-9]+)_[0-9A-Za-z]+$ ]] ||
    usage_error "--user-pool-id must be a Cognito user pool id, REGION_ID (e.g. us-east-1_AbC123), not '$pool_id'"
pool_region=${BASH_REMATCH[1]}
[[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] ||
    usage_error "--bucket-name must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens), not '$bucket'"
if [ -z "$region" ]; then
    region=$pool_region
elif ! [[ "$region" =~ $region_re ]]; then
    usage_error "--region must be an AWS region such as us-east-1, not '$region'"
elif [ "$region" != "$pool_region" ]; then
    usage_error "--user-pool-id $pool_id is in $pool_region but --region is $region: the API's Cognito authorizer needs the pool in the stack's region"
fi
stack=${stack:-k9-api-$environment}
[[ "$stack" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] ||
    usage_error "--stack-name must start with a letter and hold only letters, digits and hyphens (128 at most), not '$stack'"
case "$create_bucket" in
    true | false) ;;
    *) usage_error "--create-bucket must be true or false, not '$create_bucket'" ;;
esac
if [ -n "$artifact_bucket" ] && ! [[ "$artifact_bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]]; then
    usage_error "--artifact-bucket must be an S3 bucket name, not '$artifact_bucket'"
fi

use_sam=0
command -v sam >/dev/null 2>&1 && use_sam=1
if [ -z "$artifact_bucket" ]; then
    if [ "$create_bucket" = true ] && ((!use_sam)); then
        usage_error "--create-bucket true: $bucket does not exist before the stack creates it, so it cannot hold the code package; pass --artifact-bucket NAME (an existing bucket), or install the SAM CLI (it uses its own)"
    fi
    [ "$create_bucket" = true ] || artifact_bucket=$bucket
fi

# ---------------------------------------------------------------- the commands
show() {  # prints a command as a shell would read it, prefixed "+ "
    local line="+"
    local a
    for a in "$@"; do line+=" $(printf '%q' "$a")"; done
    echo "$line"
}
run() {  # prints the command; runs it unless --dry-run
    show "$@"
    ((dry_run)) || "$@"
}

template=infrastructure/template.yaml
packaged=build/packaged-template.yaml
overrides=(
    "S3BucketName=$bucket"
    "Environment=$environment"
    "UserPoolId=$pool_id"
    "CreateBucket=$create_bucket"
)

if ((!dry_run)); then
    command -v aws >/dev/null 2>&1 || usage_error "the AWS CLI (aws) is required; install it and configure credentials"
fi
sts=(aws sts get-caller-identity --region "$region" --output text --query Arn)
show "${sts[@]}"
if ((!dry_run)); then
    if ! identity=$("${sts[@]}" 2>&1); then
        echo "deploy.sh: no usable AWS credentials: $identity" >&2
        echo "Configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and retry." >&2
        exit 2
    fi
    echo "deploy.sh: deploying $stack ($environment) to $region as $identity" >&2
fi

run scripts/package

if ((use_sam)); then
    # No `sam build`: scripts/package already made the code package (CodeUri is the zip),
    # and sam deploy uploads it as it is.
    s3_args=(--resolve-s3)
    [ -z "$artifact_bucket" ] || s3_args=(--s3-bucket "$artifact_bucket" --s3-prefix artifacts)
    run sam deploy --template-file "$template" --stack-name "$stack" --region "$region" \
        "${s3_args[@]}" --capabilities CAPABILITY_IAM \
        --parameter-overrides "${overrides[@]}" \
        --no-confirm-changeset --no-fail-on-empty-changeset
else
    run aws cloudformation package --template-file "$template" --s3-bucket "$artifact_bucket" \
        --s3-prefix artifacts --output-template-file "$packaged" --region "$region"
    run aws cloudformation deploy --template-file "$packaged" --stack-name "$stack" \
        --capabilities CAPABILITY_IAM --parameter-overrides "${overrides[@]}" \
        --no-fail-on-empty-changeset --region "$region"
fi
run aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs" --output table
