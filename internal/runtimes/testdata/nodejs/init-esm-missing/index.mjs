import { S3 } from 'aws-sdk'

export const handler = async () => new S3()
