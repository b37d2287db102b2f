-- name: root-activity
-- about: Everything the root user did (seed query 2, without its date)
SELECT eventTime, eventName, sourceIPAddress, userAgent
FROM cloudtrail_logs
WHERE userIdentity.type = 'Root'
AND eventTime > '{{since}}'
ORDER BY eventTime DESC;

-- name: iam-policy-changes
-- about: IAM policy changes since a time (seed query 3 takes the last 24 hours)
SELECT eventTime, userIdentity.arn, eventName, requestParameters
FROM cloudtrail_logs
WHERE eventSource = 'iam.amazonaws.com'
AND eventName LIKE '%Policy%'
AND eventTime > '{{since}}'
ORDER BY eventTime DESC;

-- name: busy-ips
-- about: Source IPs with more than 100 calls, and what they called (seed query 4)
SELECT sourceIPAddress, COUNT(*) as call_count,
array_agg(DISTINCT eventName) as actions
FROM cloudtrail_logs
WHERE eventTime > '{{since}}'
GROUP BY sourceIPAddress
HAVING COUNT(*) > 100
ORDER BY call_count DESC;

-- name: security-group-changes
-- about: Security group rules opened, closed, created or deleted (seed query 5)
SELECT eventTime, userIdentity.arn, eventName, requestParameters
FROM cloudtrail_logs
WHERE eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress',
  'RevokeSecurityGroupIngress', 'CreateSecurityGroup', 'DeleteSecurityGroup')
ORDER BY eventTime DESC
LIMIT 50;

-- name: top-callers
-- about: The ten principals with the most calls since a time (seed query 6)
SELECT userIdentity.arn, COUNT(*) as calls
FROM cloudtrail_logs
WHERE eventTime > '{{since}}'
GROUP BY userIdentity.arn
ORDER BY calls DESC
LIMIT 10;

-- name: principal-activity
-- about: Everything one principal (ARN, or user name) did between two times
SELECT eventTime, eventSource, eventName, sourceIPAddress, errorCode, requestParameters
FROM cloudtrail_logs
WHERE (userIdentity.arn = '{{principal}}' OR userIdentity.userName = '{{principal}}'
  OR userIdentity.sessionContext.sessionIssuer.userName = '{{principal}}')
AND eventTime >= '{{since}}' AND eventTime <= '{{until}}'
ORDER BY eventTime;

-- name: access-key-activity
-- about: Everything one access key did
SELECT eventTime, userIdentity.arn, eventSource, eventName, sourceIPAddress, errorCode
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = '{{key}}'
ORDER BY eventTime;

-- name: new-iam-users-and-keys
-- about: IAM users, access keys and login profiles created
SELECT eventTime, userIdentity.arn AS by_whom, eventName,
  json_extract_scalar(requestParameters, '$.userName') AS for_user,
  json_extract_scalar(responseElements, '$.accessKey.accessKeyId') AS access_key
FROM cloudtrail_logs
WHERE eventSource = 'iam.amazonaws.com'
AND eventName IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile')
AND eventTime > '{{since}}'
ORDER BY eventTime DESC;

-- name: console-logins
-- about: Console sign-ins by user and source IP, with result and MFA
SELECT userIdentity.arn, sourceIPAddress,
  json_extract_scalar(responseElements, '$.ConsoleLogin') AS result,
  json_extract_scalar(additionalEventData, '$.MFAUsed') AS mfa,
  COUNT(*) AS logins, MIN(eventTime) AS first, MAX(eventTime) AS last
FROM cloudtrail_logs
WHERE eventName = 'ConsoleLogin' AND eventTime > '{{since}}'
GROUP BY 1, 2, 3, 4
ORDER BY logins DESC;

-- name: failed-console-logins
-- about: Failed console sign-ins: who, from where, how often
SELECT userIdentity.userName, sourceIPAddress, errorMessage, COUNT(*) AS failures,
  MIN(eventTime) AS first, MAX(eventTime) AS last
FROM cloudtrail_logs
WHERE eventName = 'ConsoleLogin' AND errorMessage IS NOT NULL AND eventTime > '{{since}}'
GROUP BY 1, 2, 3
ORDER BY failures DESC;

-- name: access-denied
-- about: Refused calls per principal: reconnaissance or privilege escalation attempts
SELECT userIdentity.arn, errorCode, COUNT(*) AS refused,
  array_agg(DISTINCT eventName) AS actions
FROM cloudtrail_logs
WHERE errorCode IN ('AccessDenied', 'Client.UnauthorizedOperation', 'UnauthorizedOperation', 'AccessDeniedException')
AND eventTime > '{{since}}'
GROUP BY 1, 2
ORDER BY refused DESC;

-- name: cloudtrail-tampering
-- about: Trails stopped, deleted or reconfigured
SELECT eventTime, userIdentity.arn, eventName, sourceIPAddress, requestParameters
FROM cloudtrail_logs
WHERE eventSource = 'cloudtrail.amazonaws.com'
AND eventName IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors', 'DeleteEventDataStore')
ORDER BY eventTime DESC;

-- name: bucket-policy-changes
-- about: S3 bucket policies, ACLs and public access blocks changed
SELECT eventTime, userIdentity.arn, eventName,
  json_extract_scalar(requestParameters, '$.bucketName') AS bucket, sourceIPAddress
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
AND eventName IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl', 'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock')
ORDER BY eventTime DESC;

-- name: defenses-disabled
-- about: GuardDuty, Config and KMS keys disabled or deleted
SELECT eventTime, userIdentity.arn, eventSource, eventName, requestParameters
FROM cloudtrail_logs
WHERE eventName IN ('DeleteDetector', 'UpdateDetector', 'StopConfigurationRecorder',
  'DeleteConfigurationRecorder', 'DeleteDeliveryChannel', 'DisableKey', 'ScheduleKeyDeletion')
ORDER BY eventTime DESC;

-- name: s3-downloads-by-principal
-- about: GetObject calls per principal and IP: look for exfiltration bursts
SELECT userIdentity.arn, sourceIPAddress, COUNT(*) AS downloads,
  approx_distinct(json_extract_scalar(requestParameters, '$.key')) AS distinct_objects,
  MIN(eventTime) AS first, MAX(eventTime) AS last
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com' AND eventName = 'GetObject' AND eventTime > '{{since}}'
GROUP BY 1, 2
ORDER BY downloads DESC
LIMIT 20;

-- name: role-assumptions
-- about: Who assumed which role, from where
SELECT eventTime, userIdentity.arn AS who,
  json_extract_scalar(requestParameters, '$.roleArn') AS role, sourceIPAddress
FROM cloudtrail_logs
WHERE eventSource = 'sts.amazonaws.com' AND eventName LIKE 'AssumeRole%' AND eventTime > '{{since}}'
ORDER BY eventTime DESC;
