import fs from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidArgumentError } from '../errors.js'

/** Loads the node's key from the data directory, creating it (mode 0600) on first start. */
export async function loadOrCreateKey (file: string): Promise<PrivateKey> {
  let bytes: Buffer | undefined
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new InvalidArgumentError(`peer key file ${file} is not a valid libp2p private key: ${(err as Error).message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await fs.writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err
  })
  // if another process raced us, use what is on disk
  return privateKeyFromProtobuf(await fs.readFile(file))
}
