import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Random keys every controller replica must share, made by whichever starts first (controller-keys.ts): today the
 * access-token key when FEDPBX_TOKEN_SECRET is not set.
 */
@Entity('controller_keys')
export class ControllerKeyEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'PK_controller_keys' }) name!: string;
  @Column('text') value!: string;
  @Column('timestamptz', { default: () => 'now()' }) createdAt!: Date;
}
